"""Tests of workbench.retro.findings and workbench.present.retro: findings in English and Chinese,
the notebook on the demo store, the charts and the KPI widget."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_retro_forecast import _seasonal_series

from workbench import retro
from workbench.present import retro as words

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_quarterly_retrospective.ipynb"


def _kpis_for_findings() -> pd.DataFrame:
    rows = []
    for kpi, value, qoq_change, qoq_pct, yoy_pct in [
        ("monthly_sales_cny", 6.1e6, 1.1e6, 0.22, 0.15),
        ("repeat_rate", 0.44, 0.06, np.nan, np.nan),
        ("active_partners", 210.0, -9.0, -0.041, -0.12),
    ]:
        rows.append({"dimension": "overall", "group": "all", "kpi": kpi, "quarter": "2026Q2", "value": value,
                     "qoq_change": qoq_change, "qoq_pct": qoq_pct, "yoy_change": np.nan, "yoy_pct": yoy_pct,
                     "target": np.nan, "attainment": np.nan})
    return pd.DataFrame(rows)


def test_findings_in_english_and_chinese() -> None:
    effects = pd.DataFrame({"action_type": ["training", "visit"], "effect_log": [0.10, 0.01],
                            "ci_low": [0.05, -0.04], "ci_high": [0.15, 0.06], "naive_log": [0.02, 0.03]})
    conc = pd.DataFrame({"period": ["2026Q2"], "top1_share": [0.82], "top5_share": [0.9],
                         "top1_alert": [True], "top5_alert": [True]})
    fc = pd.DataFrame({"month": pd.date_range("2026-07-01", periods=3, freq="MS"),
                       "forecast": [6e6] * 3, "lower": [5e6] * 3, "upper": [7e6] * 3})
    bt = pd.DataFrame({"method": ["model", "seasonal_naive"], "mape": [0.05, 0.12]})
    settings = retro.RetroSettings(top1_share_alert=0.8)
    args = dict(quarter="2026Q2", effects=effects, concentration_table=conc, forecast=fc, backtest=bt,
                settings=settings)
    en = words.findings(_kpis_for_findings(), lang="en", **args)
    zh = words.findings(_kpis_for_findings(), lang="zh", **args)
    assert 3 <= len(en) <= 6 and len(zh) == len(en)
    text = " ".join(en)
    assert "+22.0%" in text and "repeat rate rose 6.0 points" in text
    assert "Training" in text and "+11%" in text  # exp(0.10) − 1
    assert "Visit" not in text  # not significant
    assert "82.0%" in text and "threshold" in text
    assert "5.0%" in text and "12.0%" in text
    zh_text = " ".join(zh)
    assert re.search(r"[\u4e00-\u9fff]", zh_text)
    assert "返单率" in zh_text and "培训" in zh_text and "集中度预警" in zh_text and "610.0万元" in zh_text


@pytest.mark.slow
def test_notebook_runs_under_papermill(demo_db: Path, tmp_path: Path) -> None:
    """05 for one channel manager in Chinese: every section renders and no other manager's partner is named."""
    import nbformat
    import papermill as pm

    from workbench import store
    from workbench.reports import register_engine

    partners = store.connect(demo_db, read_only=True).table("partners").to_pandas()
    manager = partners["manager_id"].value_counts().index[0]
    out = tmp_path / "05.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"db": str(demo_db), "quarter": "2026Q3",
                                                             "manager": manager, "lang": "zh"},
                        kernel_name="python3", cwd=str(NOTEBOOK.parent), progress_bar=False,
                        engine_name=register_engine(), execution_timeout=600)
    nb = nbformat.read(out, as_version=4)
    texts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            assert o.get("output_type") != "error"
            texts.append(str(o.get("data", {}).get("text/markdown", "")))
            texts.append(str(o.get("data", {}).get("text/html", "")))
    html = "\n".join(texts)
    for heading in ("主要发现", "月销售额", "返利少付", "联系节奏", "按层级的执行率", "渠道类型依赖度", "待评估的经销商"):
        assert heading in html, heading
    assert f"渠道经理 {manager}" in html and "达成率" in html
    # the manager's page names only the manager's partners (and at least one of them)
    own = set(partners.loc[partners["manager_id"] == manager, "partner_id"])
    named = set(re.findall(r"P\d{6}", html))
    assert named and named <= own, sorted(named - own)[:5]
    others = set(partners["manager_id"].dropna()) - {manager}
    assert not [m for m in others if re.search(rf"\b{re.escape(m)}\b", html)]


def _small_kpis() -> pd.DataFrame:
    rows = []
    for dim, grp in [("overall", "all"), ("region", "East"), ("region", "South"), ("tier", "core")]:
        for i, q in enumerate(["2025Q4", "2026Q1", "2026Q2", "2026Q3"]):
            for kpi, v in [("monthly_sales_cny", 100.0 + i), ("repeat_rate", 0.4 + i / 100)]:
                rows.append({"dimension": dim, "group": grp, "kpi": kpi, "quarter": q, "value": v,
                             "qoq_change": 1.0, "qoq_pct": 0.01, "yoy_change": 2.0, "yoy_pct": 0.02,
                             "target": np.nan, "attainment": np.nan})
    return pd.DataFrame(rows)


def test_charts_build_specs_with_bound_controls() -> None:
    import json

    from workbench import charts

    k = _small_kpis()
    spec = charts.chart_kpi_trend(k, lang="zh").to_dict()
    text = json.dumps(spec, ensure_ascii=False)
    assert "月销售额（元）" in text and '"bind"' in text and "华东" in text
    es = pd.DataFrame({"action_type": "training", "rel_month": [-2, -1, 0, 1], "coef": [0.0, 0.0, 0.1, 0.1],
                       "se": 0.02, "ci_low": [-0.04, 0.0, 0.06, 0.06], "ci_high": [0.04, 0.0, 0.14, 0.14]})
    assert '"bind"' in json.dumps(charts.chart_event_study(es).to_dict())
    eff = pd.DataFrame({"action_type": ["training"], "effect_log": [0.1], "ci_low": [0.05], "ci_high": [0.15],
                        "naive_log": [0.02], "naive_ci_low": [-0.05], "naive_ci_high": [0.09]})
    truth = pd.DataFrame({"action_type": ["training"], "effect_log": [0.1]})
    assert "培训" in json.dumps(charts.chart_action_effects(eff, lang="zh", truth=truth).to_dict(), ensure_ascii=False)
    conc = pd.DataFrame({"period": ["2026Q2", "2026Q3"], "top1_share": [0.2, 0.35], "top5_share": [0.5, 0.6],
                         "hhi": [0.05, 0.15]})
    charts.chart_concentration(conc, top1_alert=0.3, top5_alert=0.6).to_dict()
    s = _seasonal_series()
    charts.chart_stl(retro.stl_decompose(s)).to_dict()
    charts.chart_forecast(s, retro.forecast_sales(s)).to_dict()
    mig = pd.DataFrame({"tier_from": ["core", "core"], "tier_to": ["core", "gone"], "partners": [9, 1],
                        "share": [0.9, 0.1]})
    charts.chart_tier_migration(mig).to_dict()
    assert "retro" not in [c for c in charts.__all__ if not c.startswith("chart_")]


def test_kpi_widget_switches_region_and_tier() -> None:
    from workbench.widgets.retro import kpi_explorer

    box = kpi_explorer(_small_kpis(), lang="en")
    region, tier = box.children[0].children
    assert region.value == "" and tier.value == ""
    region.value = "East"
    tier.value = "core"
    assert region.value == "" and tier.value == "core"  # one filter at a time
    wide = words.kpi_wide(_small_kpis(), dimension="tier", group="core", lang="zh")
    assert list(wide.index) == ["月销售额（元）", "返单率"] and "环比" in wide.columns


def test_contact_and_channel_findings_by_hand() -> None:
    """Adherence by tier and manager and the channel alert, computed by hand from five partners and two quarters."""
    from workbench import relations

    partners = pd.DataFrame({"partner_id": ["A", "B", "C", "D", "E"],
                             "tier": ["core", "core", "growth", "growth", "pilot"],
                             "manager_id": ["M1", "M1", "M2", "M2", "M2"]})
    actions = pd.DataFrame({"partner_id": ["A", "B", "C", "E", "E"],
                            "action_date": pd.to_datetime(["2026-09-10", "2026-07-01", "2026-08-15", "2026-01-05",
                                                           "2026-10-02"]),
                            "action_type": ["visit", "communication", "visit", "visit", "visit"]})
    # as of 2026-09-30: A 20 days (core 30: in cadence), B 91 (overdue), C 46 (growth 60: in), D never (overdue),
    # E 268 days (pilot 90: overdue; the 2026-10-02 visit is after as_of)
    status = relations.contact_status(partners, actions, as_of="2026-09-30")
    mix = relations.channel_mix(pd.DataFrame({"quarter": ["2026Q2", "2026Q2", "2026Q3", "2026Q3"],
                                              "channel_type": ["retailer", "ecommerce"] * 2,
                                              "net_sales": [50.0, 50.0, 30.0, 70.0]}))
    cfg = relations.load_channel_mix_config({"max_channel_share": 0.65, "max_hhi": 0.9})
    alerts = relations.channel_alerts(mix, quarter="2026Q3", config=cfg)
    facts = retro.finding_facts(_kpis_for_findings(), quarter="2026Q2", contacts=status, channel_alerts=alerts)
    c = next(f for f in facts if f.code == "contacts").values
    assert (c["partners"], c["overdue"], c["never"]) == (5, 3, 1) and c["adherence"] == pytest.approx(0.4)
    assert (c["tier"], c["tier_adherence"]) == ("pilot", 0.0)  # core 1/2, growth 1/2, pilot 0/1
    assert (c["manager"], c["manager_adherence"]) == ("M2", pytest.approx(1 / 3))  # M1 1/2, M2 1/3
    a = next(f for f in facts if f.code == "channel_alert").values
    assert (a["code"], a["channel_type"], a["value"], a["threshold"]) == ("channel_share_high", "ecommerce", 0.7, 0.65)
    en = " ".join(words.sentences(facts, "en"))
    zh = " ".join(words.sentences(facts, "zh"))
    assert "3 of 5 active partners are overdue" in en and "lowest tier Pilot at 0%" in en and "M2 at 33%" in en
    assert "E-commerce makes 70.0% of net sales (alert above 65%)" in en
    assert "5 家活跃经销商中 3 家逾期未联系" in zh and "电商占净销售额的70.0%" in zh
    # the trend against the previous quarter: ecommerce's share rose 20 points, its sales 40 %
    e = mix[(mix["quarter"] == "2026Q3") & (mix["channel_type"] == "ecommerce")].iloc[0]
    assert e["share_change_qoq"] == pytest.approx(0.2) and e["sales_change_qoq"] == pytest.approx(0.4)
