"""Poisson pseudo-maximum likelihood (PPML) for the stacked event study of actions on monthly sales.

The estimand is a multiplicative change in expected monthly sales, months without orders included:
``E[sales | action] = exp(β) · E[sales | no action]``. Each stack (one treatment month g of one action
type) is a dense partner × month array of sales (0 where the partner was active without orders, NaN
where it was not in the panel). The model is ``E[y_um] = exp(α_u + γ_m + treated_u · (L δ)_m)`` with
partner (α) and month (γ) effects per stack; L maps the stack's months to the coefficients (one
column "after the action" for the pooled effect, one column per event month for the event study).

α is profiled out exactly (the Poisson fixed-effect MLE is the multinomial likelihood of each
partner's sales over its months, Hausman, Hall & Griliches 1984), γ and δ are fitted by Newton
steps on that concave likelihood, with the stacks' γ blocks eliminated by their Schur complement.
Sales may be negative in a month (returns); a partner whose sales over a stack sum to zero or less
carries no information on a multiplier and is left out of that stack, as ``ppmlhdfe`` drops it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__: list[str] = []


@dataclass(frozen=True)
class Stack:
    """One stack: sales (partners × months, NaN = not in the panel), treated flags, partner codes, and
    the design L (months × coefficients) applied to the treated partners' months."""

    y: np.ndarray
    treated: np.ndarray
    cluster: np.ndarray
    design: np.ndarray


@dataclass(frozen=True)
class Fit:
    """PPML estimate δ with its cluster-robust covariance and what the wild bootstrap needs.

    scores: per-cluster efficient scores (clusters × k, the month effects partialled out);
    info: per-cluster contributions to the efficient information (clusters × k × k), summing to
    `information`; clusters: the partner codes of the rows of `scores`.
    """

    coef: np.ndarray
    cov: np.ndarray
    information: np.ndarray
    scores: np.ndarray
    info: np.ndarray
    clusters: np.ndarray
    n_obs: int
    iterations: int


def clean_stack(y: np.ndarray, treated: np.ndarray, cluster: np.ndarray, design: np.ndarray) -> Stack | None:
    """The stack without partners whose total sales are ≤ 0 and months nobody is observed in; None if
    no treated or no control partner is left."""
    obs = ~np.isnan(y)
    total = np.where(obs, y, 0.0).sum(axis=1)
    keep_u = total > 0
    y, treated, cluster, obs = y[keep_u], treated[keep_u], cluster[keep_u], obs[keep_u]
    keep_m = obs[~treated].any(axis=0) if (~treated).any() else np.zeros(y.shape[1], bool)
    if not treated.any() or not keep_m.any():
        return None
    return Stack(y=y[:, keep_m], treated=treated, cluster=cluster, design=design[keep_m])


def _probabilities(s: Stack, gamma: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """π_um: each partner's share of its expected sales falling in month m (rows sum to 1)."""
    obs = ~np.isnan(s.y)
    eta = gamma[None, :] + np.where(s.treated[:, None], (s.design @ delta)[None, :], 0.0)
    eta = np.where(obs, eta, -np.inf)
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _loglik(stacks: list[Stack], gammas: list[np.ndarray], delta: np.ndarray) -> float:
    total = 0.0
    for s, g in zip(stacks, gammas, strict=True):
        pi = _probabilities(s, g, delta)
        y0 = np.nan_to_num(s.y)
        with np.errstate(divide="ignore", invalid="ignore"):
            total += float(np.where(y0 != 0, y0 * np.log(pi), 0.0).sum())
    return total


def _blocks(s: Stack, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residuals R (partners × months), the γγ information, the treated partners' part, and n."""
    y0 = np.nan_to_num(s.y)
    n = y0.sum(axis=1)
    resid = y0 - n[:, None] * pi
    pn = pi * n[:, None]
    a_all = np.diag(pn.sum(axis=0)) - pn.T @ pi
    tr = s.treated
    a_tr = np.diag(pn[tr].sum(axis=0)) - pn[tr].T @ pi[tr]
    return resid, a_all, a_tr, n


def fit(stacks: list[Stack], k: int, *, tol: float = 1e-9, max_iter: int = 50) -> Fit:
    """PPML fit of δ (k coefficients) over `stacks`, Newton with step halving; cluster = partner."""
    gammas = [np.zeros(s.y.shape[1]) for s in stacks]
    delta = np.zeros(k)
    ll = _loglik(stacks, gammas, delta)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned after the loop)
        schur, rhs = np.zeros((k, k)), np.zeros(k)
        parts = []
        for s, g in zip(stacks, gammas, strict=True):
            pi = _probabilities(s, g, delta)
            resid, a_all, a_tr, _ = _blocks(s, pi)
            g_gam = resid.sum(axis=0)
            g_del = s.design.T @ resid[s.treated].sum(axis=0)
            j_gd = a_tr @ s.design
            inv = np.linalg.pinv(a_all, rcond=1e-12, hermitian=True)
            b = j_gd.T @ inv
            schur += s.design.T @ j_gd - b @ j_gd
            rhs += g_del - b @ g_gam
            parts.append((inv, g_gam, j_gd))
        step_d = np.linalg.pinv(schur, rcond=1e-12, hermitian=True) @ rhs
        steps_g = [inv @ (g_gam - j_gd @ step_d) for inv, g_gam, j_gd in parts]
        t = 1.0
        while True:
            new_g = [g + t * sg for g, sg in zip(gammas, steps_g, strict=True)]
            new_d = delta + t * step_d
            new_ll = _loglik(stacks, new_g, new_d)
            if new_ll >= ll - 1e-12 * abs(ll) or t < 1e-4:
                break
            t /= 2
        gammas, delta, ll = new_g, new_d, new_ll
        if t * max(np.abs(step_d).max(initial=0.0), max((np.abs(x).max(initial=0.0) for x in steps_g), default=0.0)) < tol:
            break
    return _inference(stacks, gammas, delta, it)


def _inference(stacks: list[Stack], gammas: list[np.ndarray], delta: np.ndarray, iterations: int) -> Fit:
    """Efficient scores and information per partner at the estimate; CRV1 covariance G/(G−1)·J⁻¹ΣssᵀJ⁻¹."""
    k = delta.size
    codes = np.concatenate([s.cluster for s in stacks])
    uniq, inv_codes = np.unique(codes, return_inverse=True)
    n_cl = uniq.size
    scores = np.zeros((n_cl, k))
    info = np.zeros((n_cl, k, k))
    start = 0
    n_obs = 0
    for s, g in zip(stacks, gammas, strict=True):
        pi = _probabilities(s, g, delta)
        resid, a_all, a_tr, n = _blocks(s, pi)
        j_gd = a_tr @ s.design
        b = j_gd.T @ np.linalg.pinv(a_all, rcond=1e-12, hermitian=True)  # k × months
        tr = s.treated.astype("float64")
        eff = tr[:, None] * (resid @ s.design) - resid @ b.T  # partners × k
        # per-partner information: tr·(Lᵀ C_u L − B C_u L), C_u = n_u (diag π_u − π_u π_uᵀ)
        cl_ = n[:, None, None] * (pi[:, :, None] * s.design[None, :, :]
                                  - pi[:, :, None] * (pi @ s.design)[:, None, :])  # partners × months × k
        h = (s.design.T - b)[None, :, :] @ cl_  # partners × k × k (batched matmul)
        h *= tr[:, None, None]
        rows = inv_codes[start:start + s.y.shape[0]]
        np.add.at(scores, rows, eff)
        np.add.at(info.reshape(n_cl, k * k), rows, h.reshape(rows.size, k * k))
        start += s.y.shape[0]
        n_obs += int((~np.isnan(s.y)).sum())
    information = info.sum(axis=0)
    j_inv = np.linalg.pinv(information, rcond=1e-12, hermitian=True)
    factor = n_cl / (n_cl - 1) if n_cl > 1 else 1.0
    cov = factor * j_inv @ (scores.T @ scores) @ j_inv
    return Fit(coef=delta, cov=cov, information=information, scores=scores, info=info, clusters=uniq,
               n_obs=n_obs, iterations=iterations)
