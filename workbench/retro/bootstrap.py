"""Wild cluster restricted bootstrap (WCR) for a one-regressor within model, from per-cluster sums.

MacKinnon & Webb's restricted wild cluster bootstrap with Rademacher weights; every bootstrap quantity of
a single within-transformed regressor is a per-cluster sum (Σ x̃ỹ, Σ x̃²), so a draw costs O(clusters)
(Roodman, MacKinnon, Nielsen & Webb 2019), and the interval is found by inverting the test.
"""

from __future__ import annotations

import math

import numpy as np

__all__: list[str] = []


def _wild_draws(n_clusters: int, reps: int, seed: int) -> np.ndarray:
    """Rademacher weights (reps × clusters, ±1), one row per bootstrap draw, from `seed`."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, size=(reps, n_clusters), dtype=np.int8).astype("float64") * 2.0 - 1.0


def _at_least(stat: np.ndarray, observed: float) -> np.ndarray:
    """Draws whose statistic is at least the observed one, ties within rounding (1e-9 relative) included:
    the all-ones and all-minus-ones draws reproduce the observed statistic exactly in theory, and with a
    handful of clusters they are many draws, so rounding (sums in another order, another backend) must not
    decide whether they count."""
    return stat >= observed - 1e-9 * abs(observed)


def _wild_p(beta0: float, a: np.ndarray, q: np.ndarray, v: np.ndarray, *, factor: float) -> float:
    """Wild cluster restricted bootstrap p-value of H0: β = beta0 for a one-regressor within model.

    a, q: per-cluster Σ x̃ỹ and Σ x̃² of the within-transformed data; v: Rademacher draws (reps × clusters).
    The null is imposed (residuals ỹ − x̃·beta0, MacKinnon & Webb's WCR); the statistic is the CRV1 t.
    Every bootstrap quantity is a per-cluster sum, so a draw costs O(clusters) (Roodman et al. 2019).
    """
    xx = q.sum()
    b_hat = a.sum() / xx
    s_hat = a - b_hat * q  # unrestricted scores
    se_hat = math.sqrt(factor * (s_hat @ s_hat)) / xx
    if not se_hat > 0:
        return float("nan")
    t = (b_hat - beta0) / se_hat
    s0 = a - beta0 * q  # restricted scores
    d = (v @ s0) / xx  # b* − beta0 per draw
    # Σ_g (v_g s0_g − d q_g)² with v_g² = 1
    meat = (s0 @ s0) - 2.0 * d * (v @ (s0 * q)) + d ** 2 * (q @ q)
    with np.errstate(divide="ignore", invalid="ignore"):  # a draw with zero spread is infinitely extreme
        t_star = d / (np.sqrt(factor * np.maximum(meat, 0.0)) / xx)
    return float(np.mean(_at_least(np.abs(t_star), abs(t))))


def _wild_ci(a: np.ndarray, q: np.ndarray, *, factor: float, alpha: float, reps: int = 999,
             seed: int = 0) -> tuple[float, float, float]:
    """(low, high, p at 0) of the wild cluster restricted bootstrap by test inversion: the interval holds
    the β0 whose bootstrap p-value exceeds `alpha` (bisection on each side, one set of draws)."""
    v = _wild_draws(a.size, reps, seed)
    xx = q.sum()
    b_hat = a.sum() / xx
    s_hat = a - b_hat * q
    se = math.sqrt(factor * (s_hat @ s_hat)) / xx
    if not se > 0 or a.size < 2:
        return float("nan"), float("nan"), float("nan")

    def bound(sign: float) -> float:
        inside, outside = b_hat, b_hat + sign * 4 * se
        while _wild_p(outside, a, q, v, factor=factor) > alpha and abs(outside - b_hat) < 100 * se:
            outside = b_hat + 2 * (outside - b_hat)
        for _ in range(30):
            mid = (inside + outside) / 2
            if _wild_p(mid, a, q, v, factor=factor) > alpha:
                inside = mid
            else:
                outside = mid
        return (inside + outside) / 2

    return bound(-1.0), bound(1.0), _wild_p(0.0, a, q, v, factor=factor)


def _wild_wald_p(coef: np.ndarray, scores: np.ndarray, info: np.ndarray, restriction: np.ndarray, *,
                 reps: int = 999, seed: int = 0) -> float:
    """Wild cluster restricted bootstrap p-value of the joint hypothesis ``restriction @ coef = 0``.

    For an M-estimator linearised at its estimate (PPML here): coef (k), scores (clusters × k, the
    per-cluster efficient scores at the estimate), info (clusters × k × k, per-cluster information,
    summing to J). The null is imposed on the linearised model (restricted estimate and its scores
    ``s_g + H_g (β̂ − β_r)``), Rademacher draws flip each cluster's restricted score, and the CRV1 Wald
    statistic of every draw is compared with the observed one (the score bootstrap of Kline & Santos
    2012 with the restricted scores to first order; exact for least squares, where it is MacKinnon &
    Webb's WCR).
    """
    n_cl = scores.shape[0]
    if n_cl < 3 or not np.isfinite(coef).all():
        return float("nan")
    j = info.sum(axis=0)
    j_inv = np.linalg.pinv(j, rcond=1e-12, hermitian=True)
    c = np.atleast_2d(restriction)
    factor = n_cl / (n_cl - 1)
    m = c @ j_inv  # q × k

    def wald(cb: np.ndarray, proj: np.ndarray) -> np.ndarray:
        """Wald statistics of rows of `cb` (draws × q) with projected cluster scores (draws × G × q)."""
        v = factor * (proj.transpose(0, 2, 1) @ proj)
        # pinv: with a handful of treated partners a draw can make the meat singular
        return np.einsum("rq,rqp,rp->r", cb, np.linalg.pinv(v, rcond=1e-12, hermitian=True), cb)

    w_obs = wald((c @ coef)[None, :], (scores @ m.T)[None, :, :])[0]
    cjc = c @ j_inv @ c.T
    shift = j_inv @ c.T @ np.linalg.pinv(cjc, rcond=1e-12, hermitian=True) @ (c @ coef)  # β̂ − β_r
    s_r = scores + info @ shift  # restricted scores
    a = s_r @ m.T  # G × q
    b = np.einsum("qk,gkl->gql", m, info)  # G × q × k
    v = _wild_draws(n_cl, reps, seed)
    d = (v @ s_r) @ j_inv.T  # draws × k: β* − β_r
    n_q = a.shape[1]
    proj = v[:, :, None] * a[None, :, :] - (b.reshape(-1, b.shape[2]) @ d.T).T.reshape(len(d), n_cl, n_q)
    w_star = wald(d @ c.T, proj)
    return float(np.mean(_at_least(w_star, w_obs)))
