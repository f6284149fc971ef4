"""Tests of workbench.segment: scorecard by hand, config errors, migration by hand, the Segmenter
(sklearn checks, planted-segment recovery on the synthetic network, stable k, predict), CLI, notebook."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import adjusted_rand_score

from workbench import segment as sg
from workbench.errors import ConfigError
from workbench.paths import config_file

AS_OF = date(2026, 9, 30)


# ---------------------------------------------------------------------------------------------
# A tiny hand-written store
# ---------------------------------------------------------------------------------------------


def _tiny_store(path: Path):
    """Six partners (two outside the population), with orders on both sides of the window edges."""
    from workbench.store import connect, raw_connection

    con = connect(path)
    raw = raw_connection(con)
    partners = [
        ("P1", "甲 & 乙", "East", "distributor", "2023-09-30", None),
        ("P2", "B", "South", "dealer", "2025-09-30", None),
        ("P3", "C", "East", "retailer", "2026-06-30", None),
        ("P4", "D", "North", "ecommerce", "2024-09-30", None),
        ("P5", "E", "East", "dealer", "2024-01-01", "2026-06-30"),  # exited before as_of
        ("P6", "F", "East", "dealer", "2026-10-15", None),  # onboarded after as_of
    ]
    for pid, name, region, ch, onboard, exit_ in partners:
        raw.execute(
            "INSERT INTO partners (partner_id, name, region, channel_type, onboard_date, exit_date) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [pid, name, region, ch, onboard, exit_],
        )
    orders = [
        ("O1", "P1", "2026-01-10", "phones", 2000.0, False),
        ("O2", "P1", "2026-02-10", "accessories", 1000.0, False),
        ("O3", "P1", "2026-02-15", "phones", -500.0, True),
        ("O4", "P1", "2025-09-30", "phones", 9999.0, False),  # on the window's open edge: out
        ("O5", "P1", "2026-10-01", "phones", 8888.0, False),  # after as_of: out
        ("O6", "P3", "2026-07-05", "smart_home", 400.0, False),
        ("O7", "P5", "2026-01-05", "phones", 700.0, False),
    ]
    months = pd.date_range("2025-10-01", "2026-09-01", freq="MS")
    orders += [(f"O2{i:02d}", "P2", str((m + pd.Timedelta(days=4)).date()), "phones", 100.0, False)
               for i, m in enumerate(months)]
    for oid, pid, day, line, net, ret in orders:
        raw.execute(
            "INSERT INTO orders (order_id, partner_id, order_date, product_line, net_amount, is_return) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [oid, pid, day, line, net, ret],
        )
    for pid, month, outlets in [("P1", "2026-08-01", 30), ("P1", "2026-09-01", 40), ("P3", "2026-09-01", 10),
                                ("P1", "2026-10-01", 99)]:
        raw.execute("INSERT INTO coverage VALUES (?, ?, ?)", [pid, month, outlets])
    for tid, pid, day, passed in [("T1", "P1", "2026-03-01", True), ("T2", "P1", "2026-04-01", True),
                                  ("T3", "P1", "2026-05-01", False), ("T4", "P2", "2025-01-01", True)]:
        raw.execute("INSERT INTO trainings (training_id, partner_id, training_date, passed) VALUES (?, ?, ?, ?)",
                    [tid, pid, day, passed])
    return con


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return _tiny_store(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")


def test_scorecard_inputs_by_hand(tiny) -> None:
    got = sg.scorecard_inputs(tiny, as_of=AS_OF).to_pandas().set_index("partner_id")
    assert list(got.index) == ["P1", "P2", "P3", "P4"]
    assert got["net_sales_365d"].tolist() == [2500.0, 1200.0, 400.0, 0.0]
    assert got["order_days_365d"].tolist() == [2, 12, 1, 0]
    assert got["active_months_365d"].tolist() == [2, 12, 1, 0]
    assert got["product_breadth_365d"].tolist() == [2, 1, 1, 0]
    assert got["active_outlets"].tolist()[0] == 40.0 and got["active_outlets"].tolist()[2] == 10.0
    assert got["active_outlets"].isna().tolist() == [False, True, False, True]
    assert got["tenure_days"].tolist() == [1096, 365, 92, 730]
    assert got["trainings_passed_365d"].tolist() == [2, 0, 0, 0]
    east = sg.scorecard_inputs(tiny, as_of=AS_OF, region="East").to_pandas()
    assert east["partner_id"].tolist() == ["P1", "P3"]


def test_scorecard_components_by_hand(tiny) -> None:
    card = sg.tier_scorecard(sg.scorecard_inputs(tiny, as_of=AS_OF).to_pandas()).set_index("partner_id")
    # sales: percentile points of 2500 > 1200 > 400 > 0
    assert card["sales_score"].tolist() == pytest.approx([100, 66.67, 33.33, 0], abs=0.01)
    # coverage: outlets ranked among P1, P3 (40 > 10); P2, P4 fall back to breadth (1 > 0)
    assert card["coverage_score"].tolist() == pytest.approx([100, 100, 0, 0], abs=0.01)
    # cooperation = (tenure/1095 capped + trainings/3 capped + 2 × regularity percentile points) / 4
    # P1: (100 + 66.667 + 2×66.667)/4, P2: (33.333 + 0 + 2×100)/4, P3: (8.402 + 0 + 2×33.333)/4, P4: 66.667/4
    assert card["cooperation_score"].tolist() == pytest.approx([75.0, 58.33, 18.77, 16.67], abs=0.01)
    # total = 0.5 sales + 0.25 coverage + 0.25 cooperation
    assert card["score"].tolist() == pytest.approx([93.75, 72.92, 21.36, 4.17], abs=0.01)
    # percentile cut-offs: 80th percentile of scores = 81.25, 40th = 31.67
    assert card["tier"].tolist() == ["core", "growth", "pilot", "pilot"]
    assert card.loc["P1", "playbook"] == "dedicated training; profit sharing; priority resources"
    tiers = sg.partner_tiers(tiny, as_of=AS_OF, region="East")
    assert tiers.to_dict("list") == {"partner_id": ["P1", "P3"], "tier": ["core", "pilot"]}


def test_absolute_cutoffs(tiny) -> None:
    cfg = yaml.safe_load(config_file("tiers.yaml").read_text(encoding="utf-8"))
    cfg["cutoffs"] = {"method": "absolute", "core": 95, "growth": 20}
    card = sg.tier_scorecard(sg.scorecard_inputs(tiny, as_of=AS_OF).to_pandas(), cfg)
    assert card["tier"].tolist() == ["growth", "growth", "growth", "pilot"]


def test_product_mix(tiny) -> None:
    mix = sg.product_mix(tiny, as_of=AS_OF).to_pandas()
    p1 = mix[mix.partner_id == "P1"].set_index("product_line")["share"]
    # phones 2000 − 500 = 1500, accessories 1000
    assert p1.to_dict() == pytest.approx({"accessories": 0.4, "phones": 0.6})
    wide = sg.product_mix_wide(mix).set_index("partner_id")
    assert wide.loc["P2"].to_dict() == {"mix_accessories": 0.0, "mix_phones": 1.0, "mix_smart_home": 0.0}
    assert "P4" not in wide.index


# ---------------------------------------------------------------------------------------------
# Config errors: one sentence naming the field
# ---------------------------------------------------------------------------------------------


def _cfg() -> dict:
    return yaml.safe_load(config_file("tiers.yaml").read_text(encoding="utf-8"))


def _set(path: list, value):
    def edit(cfg: dict) -> dict:
        node = cfg
        for key in path[:-1]:
            node = node[key]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return cfg

    return edit


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (_set(["components", "sales", "weight"], -1), "components: sales: weight must be a number ≥ 0"),
        (_set(["components", "sales", "weight"], "heavy"), "components: sales: weight must be a number"),
        (_set(["cutoffs", "typo"], 3), "cutoffs has unknown field 'typo'"),
        (_set(["cutoffs", "method"], "median"), "cutoffs: method must be one of percentile, absolute"),
        (_set(["cutoffs", "core"], 30), "cutoffs: core (30.0) must be greater than growth (40.0)"),
        (_set(["cutoffs", "growth"], 140), "cutoffs: growth must lie between 0 and 100"),
        (_set(["playbook", "pilot"], KeyError), "playbook is missing the tier 'pilot'"),
        (_set(["playbook_zh", "vip"], ["专属"]), "playbook_zh has unknown tier 'vip'"),
        (_set(["components", "cooperation", "inputs", 0, "cap"], 0), "inputs[0]: cap must be a number > 0"),
        (_set(["cutoffs"], KeyError), "is missing the required field 'cutoffs'"),
    ],
)
def test_bad_config_is_one_sentence(edit, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        sg.load_tier_config(edit(copy.deepcopy(_cfg())))
    msg = str(info.value)
    assert fragment in msg
    assert "\n" not in msg and msg.endswith(".")


def test_unknown_input_column_names_it(tiny) -> None:
    cfg = _cfg()
    cfg["components"]["sales"]["inputs"][0]["column"] = "revenue_ytd"
    with pytest.raises(ConfigError, match=r"components: sales: inputs\[0\] names the column 'revenue_ytd'"):
        sg.score_partners(sg.scorecard_inputs(tiny, as_of=AS_OF).to_pandas(), cfg)


def test_bad_yaml_file(tmp_path: Path) -> None:
    bad = tmp_path / "tiers.yaml"
    bad.write_text("cutoffs: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        sg.load_tier_config(bad)


# ---------------------------------------------------------------------------------------------
# Migration on a hand-written example
# ---------------------------------------------------------------------------------------------


def test_migration_by_hand() -> None:
    before = pd.DataFrame({"partner_id": list("ABCDEG"), "tier": ["core", "core", "growth", "pilot", "pilot", "core"]})
    after = pd.DataFrame({"partner_id": list("ABCDF"), "tier": ["core", "growth", "core", "growth", "pilot"]})
    mig = sg.tier_migration(before, after)
    counts = sg.migration_matrix(mig)
    assert counts.loc["core"].tolist() == [1, 1, 0, 1]  # to core, growth, pilot, gone
    assert counts.loc["growth"].tolist() == [1, 0, 0, 0]
    assert counts.loc["pilot"].tolist() == [0, 1, 0, 1]
    assert counts.loc["new"].tolist() == [0, 0, 1, 0]
    assert int(counts.to_numpy().sum()) == 7
    shares = sg.migration_matrix(mig, value="share")
    assert shares.loc["core"].tolist() == pytest.approx([1 / 3, 1 / 3, 0, 1 / 3])
    assert shares.loc["pilot"].tolist() == pytest.approx([0, 0.5, 0, 0.5])
    fell = sg.fell_out_of_core(before, after)
    assert fell.to_dict("list") == {"partner_id": ["B", "G"], "tier_to": ["growth", "gone"]}


def test_ready_for_promotion_by_hand() -> None:
    cfg = _cfg()
    cfg["cutoffs"] = {"method": "absolute", "core": 70, "growth": 40}
    cfg["promotion"] = {"margin": 10, "min_gain": 5}
    after = pd.DataFrame({
        "partner_id": ["A", "F", "H", "I", "J"],
        "tier": ["core", "pilot", "pilot", "pilot", "pilot"],
        "score": [80.0, 35.0, 33.0, 32.0, 20.0],
    })
    before = pd.DataFrame({"partner_id": ["A", "H", "I", "J"], "score": [70.0, 25.0, 30.0, 5.0]})
    # F is new (no gain known), I gained only 2, J is 20 points short: only H qualifies
    ready = sg.ready_for_promotion(before, after, cfg)
    assert ready.to_dict("list") == {"partner_id": ["H"], "score": [33.0], "score_gain": [8.0], "gap": [7.0]}


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


def test_cluster_names_plain_words() -> None:
    z = pd.DataFrame(
        {"net_sales_365d": [1.5, -1.0, 0.1], "sales_trend": [-0.9, 0.2, 0.0], "mix_online_bundle": [0.0, 0.3, 2.0]}
    )
    names = sg.name_clusters(z)
    assert names.tolist() == ["high volume, declining orders", "low volume", "mostly online bundle"]
    assert sg.name_clusters(z, lang="zh")[0] == "高销量，订单下滑"


# ---------------------------------------------------------------------------------------------
# Planted latent segments of the synthetic network
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def network():
    """A 2,000-partner synthetic network in an in-memory DuckDB (canonical tables, no ingest), with truth."""
    import ibis

    from workbench.synth import generate

    net = generate(partners=2000, months=36, seed=11)
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


# ---------------------------------------------------------------------------------------------
# The store: segment_table, the command, charts, the notebook
# ---------------------------------------------------------------------------------------------


def test_cli_segment_writes_csv_and_xlsx(demo_db: Path, tmp_path: Path) -> None:
    from workbench.cli import main

    csv, xlsx = tmp_path / "segments.csv", tmp_path / "segments.xlsx"
    assert main(["segment", "--as-of", "2026-09-30", "--out", str(csv), "--db", str(demo_db)]) == 0
    assert main(["segment", "--as-of", "2026-09-30", "--out", str(xlsx), "--db", str(demo_db)]) == 0
    table = pd.read_csv(csv)
    cols = ["partner_id", "region", "tier", "sales_score", "coverage_score", "cooperation_score", "score",
            "score_pct", "cluster", "cluster_name"]
    assert list(table.columns) == cols
    assert table["partner_id"].is_unique and len(table) > 200
    assert set(table["tier"]) == {"core", "growth", "pilot"}
    assert (table["tier"] == "core").mean() == pytest.approx(0.2, abs=0.02)
    clustered = table[table["cluster"] >= 0]
    assert clustered["cluster"].nunique() >= 2
    assert (table.loc[table["cluster"] < 0, "cluster_name"] == sg.NO_ORDERS).all()
    assert table[["sales_score", "coverage_score", "cooperation_score", "score"]].stack().between(0, 100).all()
    excel = pd.read_excel(xlsx)
    assert list(excel.columns) == cols and len(excel) == len(table)
    # a bad date is one sentence on stderr, not a traceback
    with pytest.raises(SystemExit):
        main(["segment", "--as-of", "not-a-date", "--out", str(csv), "--db", str(demo_db)])


def test_charts_are_small_and_bound(demo_db: Path) -> None:
    from workbench import charts
    from workbench.store import connect

    con = connect(demo_db, read_only=True)
    card = sg.scorecard_view(con, as_of=AS_OF, region="East")
    assert set(card["region"]) == {"East"}
    feats = sg.cluster_features(con, as_of=AS_OF)
    seg = sg.make_segmenter(seed=0, n_bootstrap=3).fit(feats.drop(columns="partner_id"))
    mig = sg.migration_between(con, as_of_from=date(2026, 6, 30), as_of_to=AS_OF)
    built = {
        "2d": charts.chart_segments_2d(sg.project_2d(seg, feats, lang="zh"), lang="zh"),
        "profile": charts.chart_profile_heatmap(sg.profile_long(seg)),
        "pyramid": charts.chart_tier_pyramid(sg.scorecard_view(con, as_of=AS_OF)),
        "migration": charts.chart_migration_heatmap(mig["migration"], lang="zh"),
        "k": charts.chart_k_selection(seg.selection_),
    }
    for name, chart in built.items():
        spec = chart.to_dict()
        rows = sum(len(v) for v in spec.get("datasets", {}).values())
        assert 0 < rows < 5000, name
    assert "bind" in str(built["2d"].to_dict()["params"])
    assert "核心" in str(built["migration"].to_dict())
    summary = sg.tier_summary(card)
    assert summary["tier"].tolist() == ["core", "growth", "pilot"]
    assert summary["playbook"].iloc[0] == "dedicated training; profit sharing; priority resources"
    assert sg.tier_summary(card, lang="zh")["playbook"].iloc[0] == "专属培训；利润分享；优先资源"


@pytest.mark.slow
def test_notebook_runs_under_papermill(demo_db: Path, tmp_path: Path) -> None:
    import json

    import papermill as pm

    from workbench.paths import NOTEBOOKS_DIR
    from workbench.reports import register_engine

    out = tmp_path / "02.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS_DIR / "02_segmentation.ipynb"), str(out), cwd=str(NOTEBOOKS_DIR), progress_bar=False,
        parameters={"db": str(demo_db), "quarter": "2026Q3", "region": "East", "lang": "zh"}, kernel_name="python3",
        execution_timeout=600, engine_name=register_engine(),
    )
    nb = json.loads(out.read_text(encoding="utf-8"))
    html = "".join(
        "".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", [])
    )
    assert "层级与维护策略" in out.read_text(encoding="utf-8")
    assert "<img src=x" not in html  # partner names are escaped
    from workbench.store import connect

    others = connect(demo_db, read_only=True).table("partners").to_pandas()
    others = others[others["region"] != "East"]["partner_id"]
    assert not any(pid in html for pid in others.head(200))


def test_region_view_uses_network_segments(demo_db: Path) -> None:
    from workbench.store import connect

    con = connect(demo_db, read_only=True)
    quick = sg.make_segmenter(seed=0, n_bootstrap=3)
    everyone = sg.segment_table(con, as_of=AS_OF, segmenter=quick).set_index("partner_id")
    east = sg.segment_table(con, as_of=AS_OF, region="East", segmenter=quick).set_index("partner_id")
    assert set(east["region"]) == {"East"} and 0 < len(east) < len(everyone)
    # tiers and segments are the network's, restricted to the region
    pd.testing.assert_frame_equal(east, everyone.loc[east.index])
    seg, feats = sg.network_segments(con, as_of=AS_OF, region="East", segmenter=quick)
    profiles, _ = sg.cluster_profiles(seg, feats)
    assert int(profiles["n_partners"].sum()) == len(feats) == int((east["cluster"] >= 0).sum())


def test_network_inputs_are_cached_per_store_contents(demo_db, tmp_path):
    """Network-wide tier inputs are computed once per store and date, handed out as copies, and
    recomputed when the store's file changes."""
    import shutil

    import duckdb
    import ibis

    from workbench import store

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(demo_db, db)
    con = store.connect(db, read_only=True)
    first = sg.network_inputs(con, as_of="2026-06-30")
    pd.testing.assert_frame_equal(first, sg.scorecard_inputs(con, as_of="2026-06-30").to_pandas())
    first.loc[:, "net_sales_365d"] = -1.0  # a caller changing its copy does not change the cache
    again = sg.network_inputs(con, as_of="2026-06-30")
    assert (again["net_sales_365d"] >= 0).all()
    con.disconnect()

    raw = duckdb.connect(str(db))
    pid = raw.execute("SELECT partner_id FROM orders ORDER BY order_date DESC LIMIT 1").fetchone()[0]
    raw.execute("DELETE FROM orders WHERE partner_id = ?", [pid])
    raw.execute("CHECKPOINT")
    raw.close()
    con = store.connect(db, read_only=True)
    after = sg.network_inputs(con, as_of="2026-06-30")
    pd.testing.assert_frame_equal(after, sg.scorecard_inputs(con, as_of="2026-06-30").to_pandas())
    assert not after.equals(again)
    assert store.fingerprint(ibis.duckdb.connect()) is None  # in-memory: never cached
