"""Tests of workbench.segment.compositional against values worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.segment import compositional as cp


def test_clr_by_hand() -> None:
    # logs of (0.2, 0.3, 0.5) = (-1.6094, -1.2040, -0.6931), mean -1.1689
    got = cp.clr(np.array([[0.2, 0.3, 0.5]]))
    np.testing.assert_allclose(got, [[-0.44059, -0.03512, 0.47571]], atol=1e-5)
    assert got.sum() == pytest.approx(0.0, abs=1e-12)
    # scale invariance: amounts and their shares give the same clr
    np.testing.assert_allclose(cp.clr(np.array([[20.0, 30.0, 50.0]])), got)
    with pytest.raises(ValueError, match="strictly positive"):
        cp.clr(np.array([[0.5, 0.5, 0.0]]))


def test_ilr_is_an_isometry_of_clr() -> None:
    v = cp.helmert_basis(4)
    np.testing.assert_allclose(v @ v.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(v.sum(axis=1), 0.0, atol=1e-12)
    # two parts: ilr = ln(x1/x2)/sqrt(2)
    np.testing.assert_allclose(cp.ilr(np.array([[0.8, 0.2]])), [[np.log(4.0) / np.sqrt(2.0)]])
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(5), size=20)
    dc = np.linalg.norm(cp.clr(x)[:, None, :] - cp.clr(x)[None, :, :], axis=2)
    di = np.linalg.norm(cp.ilr(x)[:, None, :] - cp.ilr(x)[None, :, :], axis=2)
    np.testing.assert_allclose(dc, di, atol=1e-10)  # Aitchison distance either way


def test_multiplicative_replacement_by_hand() -> None:
    # part 3's smallest positive share is 0.5 → δ = 0.65 × 0.5 = 0.325; the other parts × (1 − 0.325)
    x = np.array([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]])
    got = cp.multiplicative_replacement(x)
    np.testing.assert_allclose(got, [[0.2, 0.3, 0.5], [0.3375, 0.3375, 0.325]])
    np.testing.assert_allclose(got.sum(axis=1), 1.0)
    # ratios between non-zero parts are kept
    assert got[1, 0] / got[1, 1] == pytest.approx(1.0)
    frame = pd.DataFrame(x, columns=["a", "b", "c"], index=["p", "q"])
    out = cp.multiplicative_replacement(frame, delta=0.1)
    assert list(out.columns) == ["a", "b", "c"] and out.loc["q", "c"] == pytest.approx(0.1)
    assert out.loc["q", "a"] == pytest.approx(0.45)


def test_bayes_multiplicative_by_hand() -> None:
    # n = 4 order lines, √n = 2, prior t = (0.5, 0.3, 0.2): zero → 0.2·2/(4+2) = 0.0667; rest × 0.9333
    got = cp.bayes_multiplicative(np.array([[0.6, 0.4, 0.0]]), [4], prior=np.array([0.5, 0.3, 0.2]))
    np.testing.assert_allclose(got, [[0.56, 0.373333, 0.066667]], atol=1e-6)
    # more evidence → a smaller replacement (a partner with 400 lines who never bought part 3)
    more = cp.bayes_multiplicative(np.array([[0.6, 0.4, 0.0]]), [400], prior=np.array([0.5, 0.3, 0.2]))
    assert more[0, 2] == pytest.approx(0.2 * 20 / 420)
    # amounts are closed first; no zeros → unchanged shares
    np.testing.assert_allclose(cp.bayes_multiplicative(np.array([[6.0, 4.0]]), [3]), [[0.6, 0.4]])
    with pytest.raises(ValueError, match="one positive count per row"):
        cp.bayes_multiplicative(np.array([[0.6, 0.4]]), [0])
