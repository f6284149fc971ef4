"""workbench.churn.scoring (+ present.churn words): reasons, actions, the risk list and the CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import churn
from workbench.present import churn as present_churn


def test_reasons_in_plain_words_with_one_action_each() -> None:
    frame = pd.DataFrame({
        "partner_id": ["A", "B", "C"],
        "sales_90d": [5500.0, 10000.0, 10000.0],
        "sales_prev_90d": [10000.0, 10000.0, 10000.0],
        "sales_change_pct": [-45.0, 0.0, 0.0],
        "median_gap_days": [30.0, 30.0, 30.0],
        "recency_days": [64.0, 10.0, 10.0],
        "cycle_ratio": [64 / 30, 10 / 30, 10 / 30],
        "rebate_overdue": [32000.0, 0.0, 0.0],
        "sat_last": [70.0, 55.0, 80.0],
        "sat_change": [-12.0, 0.0, 1.0],
        "open_conflicts": [0.0, 2.0, 0.0],
        "trainings_365d": [0.0, 1.0, 1.0],
    })
    r = present_churn.reasons_table(frame).set_index("partner_id")
    a = r.loc["A", "reasons"].split("; ")
    assert a == [
        "orders down 45% vs the previous 90 days",
        "no order for 64 days, 2.1× its usual 30-day cycle",
        "¥32,000 of rebates unpaid",
    ]
    assert r.loc["A", "action"].split("; ")[2] == "settle the rebate"
    assert r.loc["B", "reasons"] == "satisfaction low at 55/100; 2 open channel conflicts"
    assert r.loc["B", "action"] == "account review with the owner: agree a fix list; resolve the conflict"
    assert r.loc["C", "reasons"] == "" and r.loc["C", "action"] == "keep the regular contact rhythm"
    zh = present_churn.reasons_table(frame, lang="zh").set_index("partner_id")
    assert "尽快结清返利" in zh.loc["A", "action"]


def test_actions_config_errors_are_one_sentence(tmp_path: Path) -> None:
    from workbench.errors import ConfigError

    bad = tmp_path / "a.yaml"
    bad.write_text("reasons:\n  overdue:\n    feature: cycle_ratio\n    acton: call\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown field 'acton'"):
        churn.load_actions(bad)


def test_risk_list_ranks_true_churners_first(demo_con, demo_frames, demo_bt) -> None:
    as_of = date(2026, 6, 30)
    frames = {k: v for k, v in demo_frames.items() if k < as_of}
    scorer = churn.fit_scorer(demo_con, as_of=as_of, frames=frames, bt=demo_bt)
    assert scorer.model == demo_bt.winner and max(scorer.trained_on) == date(2026, 3, 31)
    risk = churn.risk_list(demo_con, as_of=as_of, horizon_days=90, scorer=scorer)
    assert list(risk.columns) == churn.RISK_COLUMNS
    assert risk["partner_id"].is_unique and risk["risk"].is_monotonic_decreasing
    assert risk["risk"].between(0, 1).all() and (risk["sales_at_risk"] >= 0).all()
    assert set(risk["tier"].dropna()) <= {"core", "growth", "pilot"} and risk["tier"].notna().all()
    top = risk.head(max(10, len(risk) // 10))
    assert (top["reason_codes"] != "").mean() > 0.8
    # against the glossary labels observed afterwards: the top decile is enriched in churners
    lab = churn.cutoff_frame(demo_con, as_of=as_of, horizon_days=90)[["partner_id", "churned"]]
    m = risk.merge(lab, on="partner_id")
    assert len(m) == len(risk)
    assert m.head(len(top))["churned"].mean() > 2 * m["churned"].mean()
    east = churn.risk_list(demo_con, as_of=as_of, region="East", scorer=scorer)
    assert set(east["region"]) == {"East"}


def test_cli_churn_writes_csv_and_xlsx(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli import main

    cols = ["partner_id", "name", "region", "tier", "risk", "sales_at_risk", "expected_sales", "clv_12m", "reasons",
            "action"]
    out = tmp_path / "risk.csv"
    seen: list[pd.DataFrame] = []
    real = churn.risk_list
    monkeypatch.setattr(churn, "risk_list", lambda con, **kw: seen.append(real(con, **kw)) or seen[-1])
    assert main(["churn", "--as-of", "2026-09-30", "--horizon-days", "90", "--out", str(out), "--db", str(demo_db)]) == 0
    csv = pd.read_csv(out, encoding="utf-8")
    assert list(csv.columns) == cols and len(csv) > 100 and csv["risk"].is_monotonic_decreasing
    # the same table as Excel (scoring reused, so the test stays fast)
    monkeypatch.setattr(churn, "risk_list", lambda con, **kw: seen[0])
    xlsx = tmp_path / "risk.xlsx"
    assert main(["churn", "--as-of", "2026-09-30", "--out", str(xlsx), "--db", str(demo_db)]) == 0
    back = pd.read_excel(xlsx)
    assert list(back.columns) == cols and back["partner_id"].tolist() == csv["partner_id"].tolist()


def test_a_baseline_winner_scores_calibrated_probabilities(demo_con, demo_frames, demo_bt) -> None:
    """If a rule wins (small regions can go that way), risk is still a probability, not a rank."""
    import dataclasses

    as_of = date(2026, 6, 30)
    frames = {k: v for k, v in demo_frames.items() if k < as_of}
    bt = dataclasses.replace(demo_bt, winner="recency_rule")
    scorer = churn.fit_scorer(demo_con, as_of=as_of, frames=frames, bt=bt)
    test = demo_frames[as_of]
    p = scorer.predict(test)
    assert np.all((p >= 0) & (p <= 1))
    order = np.argsort(test["recency_days"].to_numpy())
    assert np.all(np.diff(p[order]) >= -1e-12)  # monotone in days since the last order
    assert p.mean() == pytest.approx(test["churned"].mean(), abs=0.06)


def test_cli_churn_on_cdnow_writes_expected_sales_for_every_active_customer(realstore, real_data: Path,
                                                                            tmp_path: Path) -> None:
    """Issue 15's acceptance: `workbench churn --as-of 1997-09-30 --horizon-days 273` on the CDNOW store
    writes expected_sales (and clv_12m) for every customer with a purchase in the 180 days before."""
    from workbench.cli import main

    out = tmp_path / "cdnow_risk.csv"
    db = realstore("cdnow")
    assert main(["churn", "--as-of", "1997-09-30", "--horizon-days", "273", "--out", str(out), "--db", str(db)]) == 0
    got = pd.read_csv(out)
    tx = pd.read_csv(real_data / "cdnow" / "CDNOW_sample.txt", sep=r"\s+", header=None,
                     names=["master_id", "customer_id", "date", "cds", "dollars"], dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    last = tx[tx["date"] <= "1997-09-30"].groupby("customer_id")["date"].max()
    active = last[last > pd.Timestamp("1997-09-30") - pd.Timedelta(days=180)]
    assert len(got) == len(active) > 500
    assert got["expected_sales"].notna().all() and (got["expected_sales"] >= 0).all()
    assert got["clv_12m"].notna().all() and got["risk"].between(0, 1).all()
    # a long-silent one-time buyer is worth less than a recent frequent one
    assert got["expected_sales"].max() > 10 * got["expected_sales"].median() > 0
