"""Tests of workbench.segment.network on the demo store: segment_table, the command, charts, the
notebook, the region view."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from workbench import segment as sg
from workbench.present import segment as ps

AS_OF = date(2026, 9, 30)


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
        "2d": charts.chart_segments_2d(ps.with_cluster_names(sg.project_2d(seg, feats), seg, "zh"), lang="zh"),
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
    assert ps.tier_summary(card, lang="zh")["playbook"].iloc[0] == "专属培训；利润分享；优先资源"


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


@pytest.mark.parametrize("name", ["many_lines_3000", "no_product_line", "one_partner_region", "returns_only_region"])
def test_thin_stores_degrade_with_one_sentence(realstore, name: str) -> None:
    """Thousands of lines segment on the top lines plus "other"; no product line means no mix columns;
    a region without clusterable partners raises NotEnoughData (one sentence), never anything else."""
    from tests import realstores
    from workbench.errors import NotEnoughData
    from workbench.store import connect

    con = connect(realstore(name), read_only=True)
    quick = sg.make_segmenter(seed=0, n_bootstrap=2)
    seg, feats = sg.network_segments(con, as_of=AS_OF, segmenter=quick)
    mix_cols = [c for c in feats.columns if c.startswith("clr_")]
    if name == "many_lines_3000":
        assert len(mix_cols) == sg.DEFAULT_TOP_LINES + 1 and f"clr_{sg.OTHER_LINE}" in mix_cols
    if name == "no_product_line":
        assert mix_cols == [] and "line_breadth" not in feats.columns
    table = sg.segment_table(con, as_of=AS_OF, segmenter=quick)
    assert table["partner_id"].is_unique and (table["cluster"] >= 0).any()
    if name == "one_partner_region":
        seg, island = sg.network_segments(con, as_of=AS_OF, region=realstores.ONE_PARTNER_REGION, segmenter=quick)
        assert len(island) == 1
        points = sg.project_2d(seg, island)
        assert points[["pc1", "pc2"]].to_numpy().tolist() == [[0.0, 0.0]]
        assert ps.with_cluster_names(points, seg, "zh")["cluster_name"].str.len().gt(0).all()
    if name == "returns_only_region":
        with pytest.raises(NotEnoughData) as info:
            sg.network_segments(con, as_of=AS_OF, region=realstores.RETURNS_ONLY_REGION, segmenter=quick)
        msg = str(info.value)
        assert "\n" not in msg and msg.endswith(".") and realstores.RETURNS_ONLY_REGION in msg
        region = sg.segment_table(con, as_of=AS_OF, region=realstores.RETURNS_ONLY_REGION, segmenter=quick)
        assert (region["cluster"] == -1).all() and (region["cluster_name"] == sg.NO_ORDERS).all()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "region", "lang"), [("returns_only_region", "Returns only", "zh")])
def test_notebook_renders_on_thin_stores(realstore, tmp_path: Path, name: str, region: str, lang: str) -> None:
    import json

    import papermill as pm

    from workbench.paths import NOTEBOOKS_DIR
    from workbench.reports import register_engine

    out = tmp_path / "02.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS_DIR / "02_segmentation.ipynb"), str(out), cwd=str(NOTEBOOKS_DIR), progress_bar=False,
        parameters={"db": str(realstore(name)), "quarter": "2026Q3", "region": region, "lang": lang},
        kernel_name="python3", execution_timeout=600, engine_name=register_engine(),
    )
    nb = json.loads(out.read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error" or o.get("name") == "stderr"]
    if name == "returns_only_region":
        notes = ["".join(o.get("data", {}).get("text/markdown", "")) for o in outputs]
        assert any("Returns only" in n and "无人归入分群" in n for n in notes)  # the sentence in Chinese


def test_network_baselines_beside_the_chosen_segments(demo_db: Path) -> None:
    from workbench.store import connect

    con = connect(demo_db, read_only=True)
    quick = sg.make_segmenter(seed=0, n_bootstrap=2)
    table = sg.network_baselines(con, as_of=AS_OF, segmenter=quick)
    assert table["method"].tolist() == ["chosen (kmeans)", "kmeans_log_spend", "gmm_same_features"]
    assert table["agreement"].between(-1, 1).all() and table.loc[0, "agreement"] == 1.0
    shown = ps.html_table(ps.baselines_table(table, lang="zh"), lang="zh", max_rows=None)
    assert "所选分群" in shown and "与所选分群一致性" in shown
