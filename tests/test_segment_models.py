"""Tests of workbench.segment.models: the Segmenter (sklearn checks, blobs, fixed k and BIC) and
planted-segment recovery on the synthetic network (stable k, predict next quarter)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from workbench import segment as sg

AS_OF = date(2026, 9, 30)


# ---------------------------------------------------------------------------------------------
# The Segmenter on plain numeric tables
# ---------------------------------------------------------------------------------------------

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

_SKLEARN_CHECKS = parametrize_with_checks(
    [sg.Segmenter(n_bootstrap=2, k_range=(2, 4)), sg.Segmenter(algorithm="gmm", n_bootstrap=2, k_range=(2, 4))]
)


def _check_name(case) -> str:
    check = case.values[1] if hasattr(case, "values") else case[1]
    return getattr(check, "func", check).__name__


# The array-API check only applies to estimators that accept array-API inputs (ours take pandas/numpy);
# sklearn skips it unless SCIPY_ARRAY_API is set, so it is left out rather than reported as skipped.
@pytest.mark.parametrize(
    _SKLEARN_CHECKS.args[0],
    [case for case in _SKLEARN_CHECKS.args[1] if _check_name(case) != "check_array_api_input"],
    ids=_SKLEARN_CHECKS.kwargs.get("ids"),
)
def test_sklearn_compatible(estimator, check) -> None:
    check(estimator)


def _blobs(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Three groups of partners: skewed sales, order counts and a share column."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    sales = np.exp(rng.normal(np.array([9.0, 11.0, 13.0])[y], 0.3))
    orders = rng.poisson(np.array([4, 24, 12])[y])
    share = np.clip(rng.normal(np.array([0.8, 0.2, 0.5])[y], 0.05), 0, 1)
    return pd.DataFrame({"net_sales_365d": sales, "order_days_365d": orders, "mix_online": share}), y


def test_segmenter_on_any_table() -> None:
    X, y = _blobs(900, 1)
    seg = sg.make_segmenter(seed=3, n_bootstrap=5).fit(X)
    assert seg.n_clusters_ == 3
    assert adjusted_rand_score(y, seg.labels_) > 0.95
    sel = seg.selection_
    assert sel["k"].tolist() == list(range(2, 9))
    assert {"silhouette", "bic", "stability", "stability_sd", "chosen"} <= set(sel.columns)
    assert sel.loc[sel.chosen, "k"].item() == 3
    assert bool(seg.log_columns_[0]) and not bool(seg.log_columns_[2])  # sales logged, shares not
    assert seg.profiles_["n_partners"].is_monotonic_decreasing
    names = seg.cluster_names_
    assert names.is_unique and all(isinstance(s, str) and s for s in names)
    # the cluster with the largest sales is named for it
    top = seg.profiles_["net_sales_365d"].idxmax()
    assert "high volume" in names[top]
    # seeded: the same seed gives the same result
    again = sg.make_segmenter(seed=3, n_bootstrap=5).fit(X)
    np.testing.assert_array_equal(seg.labels_, again.labels_)
    pd.testing.assert_frame_equal(seg.selection_, again.selection_)


def test_predict_new_partners_consistently() -> None:
    X, y = _blobs(1200, 2)
    fit_rows, new_rows = np.arange(800), np.arange(800, 1200)
    seg = sg.make_segmenter(seed=0, n_bootstrap=4).fit(X.iloc[fit_rows])
    np.testing.assert_array_equal(seg.predict(X.iloc[fit_rows]), seg.labels_)
    pred = seg.predict(X.iloc[new_rows])
    assert adjusted_rand_score(y[new_rows], pred) > 0.95
    # the mapping cluster → true group learned on the fit rows holds on the new rows
    mapping = pd.crosstab(seg.labels_, y[fit_rows]).idxmax(axis=1)
    assert (mapping[pred].to_numpy() == y[new_rows]).mean() > 0.98


def test_fixed_k_and_bic() -> None:
    X, y = _blobs(600, 4)
    seg = sg.Segmenter(n_clusters=4, n_bootstrap=3).fit(X)
    assert seg.n_clusters_ == 4 and seg.selection_["k"].tolist() == [4]
    gmm = sg.Segmenter(algorithm="gmm", criterion="bic", n_bootstrap=3, k_range=(2, 5)).fit(X)
    assert gmm.n_clusters_ == 3


# ---------------------------------------------------------------------------------------------
# Planted latent segments of the synthetic network
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def network():
    """A 2,000-partner synthetic network in an in-memory DuckDB (canonical tables, no ingest), with truth."""
    import ibis

    from workbench.synth import generate

    net = generate(partners=2000, months=36, seed=11, mode="easy")
    con = ibis.duckdb.connect()
    for name, frame in net.tables.items():
        con.create_table(name, frame)
    return con, net.truth["partners"].set_index("partner_id")["segment"]


@pytest.fixture(scope="module")
def fitted(network):
    """Features at 2026-09-30 and the default segmenter fitted with three seeds."""
    con, _ = network
    feats = sg.cluster_features(con, as_of=AS_OF)
    X = feats.drop(columns="partner_id")
    return feats, [sg.make_segmenter(seed=s).fit(X) for s in (0, 1, 2)]


def test_recovers_planted_segments(network, fitted) -> None:
    _, truth = network
    feats, segs = fitted
    # partners with sales in the last 365 days are clustered: the churned ones have no orders to cluster
    assert len(feats) > 1000
    seg = segs[0]
    assert seg.n_clusters_ == 4
    assert adjusted_rand_score(truth.reindex(feats["partner_id"]), seg.labels_) >= 0.9
    names = seg.cluster_names_
    # the key distributors (very large, broad mix) are the cluster named for volume and breadth
    key = pd.crosstab(seg.labels_, truth.reindex(feats["partner_id"]).to_numpy())["key_distributor"].idxmax()
    assert names[key] == "high volume, broad range"
    online = pd.crosstab(seg.labels_, truth.reindex(feats["partner_id"]).to_numpy())["ecommerce_reseller"].idxmax()
    assert names[online].startswith("mostly online bundle")


def test_chosen_k_is_stable_across_seeds(fitted) -> None:
    _, segs = fitted
    assert [s.n_clusters_ for s in segs] == [4, 4, 4]
    for s in segs:
        chosen = s.selection_.set_index("k").loc[4]
        assert chosen["stability"] >= 0.9
    assert adjusted_rand_score(segs[0].labels_, segs[1].labels_) > 0.95


def test_predict_assigns_next_quarter_consistently(network, fitted) -> None:
    con, truth = network
    feats, segs = fitted
    earlier = sg.cluster_features(con, as_of=date(2026, 6, 30))
    seg = sg.make_segmenter(seed=0).fit(earlier.drop(columns="partner_id"))
    nxt = seg.predict(feats.drop(columns="partner_id"))
    assert adjusted_rand_score(truth.reindex(feats["partner_id"]), nxt) >= 0.9
    both = earlier[["partner_id"]].assign(before=seg.labels_).merge(feats[["partner_id"]].assign(after=nxt))
    assert (both["before"] == both["after"]).mean() > 0.95


def test_composition_block_is_not_logged_and_weighs_share_weight() -> None:
    """clr_ columns (already log-ratios) are never logged again; together they weigh `share_weight`
    ordinary features (their summed variance after scaling), whatever the number of lines."""
    rng = np.random.default_rng(0)
    n = 400
    c = rng.normal(0.0, 1.0, size=(n, 5))
    c -= c.mean(axis=1, keepdims=True)
    X = pd.DataFrame({"net_sales_365d": np.exp(rng.normal(10, 1, n)), **{f"clr_l{j}": 3.0 + c[:, j] for j in range(5)}})
    for weight in (2.0, 4.0):
        seg = sg.Segmenter(n_clusters=2, n_bootstrap=1, share_weight=weight, scaler="standard", clip=None).fit(X)
        assert seg.log_columns_.tolist() == [True, False, False, False, False, False]
        assert seg.share_columns_.tolist() == [False, True, True, True, True, True]
        Z = seg.transform_features(X)
        assert Z[:, 1:].var(axis=0).sum() == pytest.approx(weight, rel=1e-6)
        assert Z[:, 0].var() == pytest.approx(1.0, rel=1e-6)
