"""Compositional data: product-mix shares live on a simplex, where Euclidean distance misleads.

A partner's mix (shares of net sales per product line, summing to 1) is analysed through log-ratios
(Aitchison 1986): the centred log-ratio ``clr(x)_j = log x_j − mean_k log x_k`` and the isometric
log-ratio ``ilr(x) = clr(x) · Vᵀ`` (V an orthonormal basis of the clr plane, here Helmert's). Euclidean
distance between clr (or ilr) vectors is the Aitchison distance: scale-invariant and subcompositionally
coherent. ilr has D−1 coordinates and a full-rank covariance (what a Gaussian mixture needs); clr keeps
one coordinate per line (what a name needs).

Log-ratios need positive parts, so zeros (a partner who bought nothing of a line) are replaced first:

* `bayes_multiplicative` (default where the number of order lines is known): Bayesian-multiplicative
  replacement with the square-root prior (Martín-Fernández, Hron, Templ, Filzmoser & Palarea-Albaladejo
  2015, *Statistical Modelling* 15(2)): a zero of line j in a partner with n order lines becomes
  t_j·√n / (n + √n), t_j the line's network-wide share; the partner's other parts shrink
  multiplicatively so the row still sums to 1 and their ratios are unchanged. A partner with few
  orders has little evidence that it never buys a line, so its zero is replaced by more.
* `multiplicative_replacement`: Martín-Fernández, Barceló-Vidal & Pawlowsky-Glahn (2003), a zero of
  part j becomes δ_j = 0.65 × (smallest positive share of part j), the rest shrink multiplicatively.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "close",
    "multiplicative_replacement",
    "bayes_multiplicative",
    "clr",
    "ilr",
    "helmert_basis",
]


def _array(x: np.ndarray | pd.DataFrame) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"a composition table must be 2-D (rows, parts), got shape {a.shape}.")
    if (a < 0).any() or not np.isfinite(a).all():
        raise ValueError("composition parts must be finite and ≥ 0.")
    return a


def _like(x: np.ndarray | pd.DataFrame, values: np.ndarray, columns: list[str] | None = None):
    if isinstance(x, pd.DataFrame):
        return pd.DataFrame(values, index=x.index, columns=columns if columns is not None else x.columns)
    return values


def close(x: np.ndarray | pd.DataFrame) -> np.ndarray | pd.DataFrame:
    """Rows divided by their sums (shares summing to 1); a row of zeros stays zero."""
    a = _array(x)
    tot = a.sum(axis=1, keepdims=True)
    return _like(x, np.divide(a, tot, out=np.zeros_like(a), where=tot > 0))


def multiplicative_replacement(
    x: np.ndarray | pd.DataFrame, *, delta: float | np.ndarray | None = None, fraction: float = 0.65
) -> np.ndarray | pd.DataFrame:
    """Zeros → δ_j, non-zero parts × (1 − Σ δ of the row's zeros); rows are closed first.

    delta: the replacement per part (scalar or one per column); None uses `fraction` × the smallest
    positive share of each part (its detection limit). Ratios between non-zero parts are unchanged.
    """
    s = np.asarray(close(x), dtype=np.float64)
    zero = s <= 0
    if delta is None:
        pos = np.where(zero, np.inf, s)
        dl = pos.min(axis=0)
        dl = np.where(np.isfinite(dl), dl, 1.0 / max(s.shape[1], 1))
        d = fraction * dl
    else:
        d = np.broadcast_to(np.asarray(delta, dtype=np.float64), (s.shape[1],))
    sub = (zero * d[None, :]).sum(axis=1, keepdims=True)
    if (sub >= 1).any():
        raise ValueError("zero replacements add up to ≥ 1 in a row; use a smaller delta.")
    out = np.where(zero, d[None, :], s * (1.0 - sub))
    return _like(x, out)


def bayes_multiplicative(
    x: np.ndarray | pd.DataFrame, n: np.ndarray | pd.Series, *, prior: np.ndarray | None = None
) -> np.ndarray | pd.DataFrame:
    """Bayesian-multiplicative zero replacement with the square-root prior (see the module docstring).

    x: rows of non-negative amounts or shares (closed first); n: evidence per row (e.g. order lines,
    > 0); prior: the expected share t_j of each part (default: the column totals of the closed rows,
    normalised). A zero becomes t_j·√n/(n+√n); non-zero parts shrink so the row sums to 1.
    """
    s = np.asarray(close(x), dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64).reshape(-1, 1)
    if nn.shape[0] != s.shape[0] or (nn <= 0).any():
        raise ValueError("n must give one positive count per row.")
    t = s.mean(axis=0) if prior is None else np.asarray(prior, dtype=np.float64)
    t = t / t.sum()
    zero = s <= 0
    root = np.sqrt(nn)
    r = t[None, :] * root / (nn + root)
    sub = (zero * r).sum(axis=1, keepdims=True)
    out = np.where(zero, r, s * (1.0 - sub))
    return _like(x, out)


def clr(x: np.ndarray | pd.DataFrame) -> np.ndarray | pd.DataFrame:
    """Centred log-ratio of strictly positive rows: log x_j − mean_k log x_k (each row sums to 0)."""
    a = _array(x)
    if (a <= 0).any():
        raise ValueError("clr needs strictly positive parts: replace zeros first.")
    lg = np.log(a)
    return _like(x, lg - lg.mean(axis=1, keepdims=True))


def helmert_basis(d: int) -> np.ndarray:
    """An orthonormal basis (d−1, d) of the clr plane (rows orthonormal and orthogonal to the ones vector)."""
    if d < 2:
        raise ValueError("a composition needs at least 2 parts.")
    v = np.zeros((d - 1, d))
    for i in range(1, d):
        v[i - 1, :i] = 1.0 / i
        v[i - 1, i] = -1.0
        v[i - 1] *= np.sqrt(i / (i + 1.0))
    return v


def ilr(x: np.ndarray | pd.DataFrame) -> np.ndarray | pd.DataFrame:
    """Isometric log-ratio coordinates (d−1 per row) in the Helmert basis: clr(x) · Vᵀ."""
    c = np.asarray(clr(x))
    out = c @ helmert_basis(c.shape[1]).T
    cols = [f"ilr_{i + 1}" for i in range(out.shape[1])]
    return _like(x, out, cols)
