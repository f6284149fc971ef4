"""workbench.present.churn, charts and widgets: words in en/zh, readable drivers, escaped tables."""

from __future__ import annotations

import pandas as pd

from workbench import churn
from workbench.present import churn as present_churn


def test_widgets_and_charts_render_from_backtest(demo_bt: churn.Backtest) -> None:
    from workbench import charts
    from workbench.widgets.churn import partner_drilldown, threshold_explorer, threshold_summary

    risk = pd.DataFrame({"partner_id": ["A", "B", "C", "D"], "name": ["<b>x</b>", "b", "c", "d"],
                         "region": "East", "tier": "core", "risk": [0.9, 0.6, 0.3, 0.1],
                         "sales_at_risk": [900.0, 600.0, 300.0, 100.0], "reasons": "", "action": ""})
    s = threshold_summary(risk, 0.5)
    assert s["partners_flagged"] == 2 and s["sales_at_risk_flagged"] == 1500.0
    box = threshold_explorer(risk, predictions=demo_bt.predictions, model=demo_bt.winner, threshold=0.5)
    assert "&lt;b&gt;x&lt;/b&gt;" in box.children[2].value and "<b>x</b>" not in box.children[2].value
    box.children[0].value = 0.95
    assert ": 0 (0%)" in box.children[1].value
    detail = risk.assign(recency_days=10.0, sat_last=70.0)
    dd = partner_drilldown(detail)
    assert "90%" in dd.children[1].value
    specs = [
        charts.chart_roc(churn.roc_points(demo_bt.predictions)),
        charts.chart_calibration(churn.calibration_table(demo_bt.predictions, model=demo_bt.winner)),
        charts.chart_lift(churn.gains_table(demo_bt.predictions)),
        charts.chart_risk_threshold(churn.threshold_table(risk, demo_bt.predictions, model=demo_bt.winner)),
    ]
    for c in specs:
        d = c.to_dict()
        assert "datasets" in d and all(len(v) <= 5000 for v in d["datasets"].values())
    th = specs[-1].to_dict()
    assert "risk_threshold" in str(th["params"]) and "bind" in str(th["params"])


def test_reasons_in_chinese_and_readable_odds(demo_bt: churn.Backtest) -> None:
    frame = pd.DataFrame({
        "partner_id": ["A"], "sales_90d": [5500.0], "sales_prev_90d": [10000.0],
        "sales_change_pct": [-45.0], "median_gap_days": [30.0], "recency_days": [64.0], "cycle_ratio": [64 / 30],
        "rebate_overdue": [32000.0], "sat_last": [70.0], "sat_change": [-12.0], "open_conflicts": [0.0],
        "trainings_365d": [1.0],
    })
    zh = present_churn.reasons_table(frame, lang="zh").iloc[0]
    assert zh["reasons"] == "订货额比前90天下降 45%; 已 64 天未下单，是其通常 30 天订货周期的 2.1 倍; ¥32,000 返利未付"
    odds = present_churn.odds_table(demo_bt, lang="zh")
    assert "距上次下单天数" in set(odds["feature"]) and not odds["feature"].str.startswith("snap_").any()


def test_every_model_input_has_words_in_both_languages(demo_frames) -> None:
    """No snake_case reaches a page: every model input (drivers, snapshot features, channel dummies)
    has an English and a Chinese name."""
    frame = next(iter(demo_frames.values()))
    cols = churn.feature_columns(frame)
    missing = [c for c in cols if c.removeprefix("snap_").replace("_cny", "") not in present_churn.DRIVERS]
    assert not missing, missing
    for c in cols:
        en, zh = present_churn.driver_label(c, "en"), present_churn.driver_label(c, "zh")
        assert "_" not in en and en != zh, c
