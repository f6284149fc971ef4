"""Days overdue for a contact as a churn driver: point in time at each cut-off, and earning its place
out of time on a world where contact lapses raise the hazard (synth contact_lapse)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench import churn, store
from workbench.relations.contacts import CONTACT_TYPES, contact_cadence

LAPSE = 0.5  # planted: +0.5 on the hazard's logit per month past a 60-day contact rhythm (capped at 6)


@pytest.fixture(scope="module")
def lapse_con(tmp_path_factory: pytest.TempPathFactory):
    """A 400-partner easy world (seed 7) whose contact lapses raise the churn hazard."""
    from workbench.synth import build_demo_store

    db: Path = tmp_path_factory.mktemp("lapse") / "lapse.duckdb"
    build_demo_store(db, partners=400, months=36, seed=7, mode="easy", contact_lapse=LAPSE)
    return store.connect(db, read_only=True)


@pytest.fixture(scope="module")
def lapse_frames(lapse_con) -> dict:
    return churn.cutoff_frames(lapse_con, churn.default_cutoffs(lapse_con, horizon_days=90), horizon_days=90)


def test_days_overdue_is_point_in_time(lapse_con, lapse_frames) -> None:
    """At a cut-off, days since contact counts from the latest visit or communication dated on or
    before it (later contacts ignored), and days overdue is that minus the tier's cadence (>= 0)."""
    cut = sorted(lapse_frames)[3]
    f = lapse_frames[cut].set_index("partner_id")
    acts = lapse_con.table("actions").to_pandas()
    acts = acts[acts["action_type"].isin(CONTACT_TYPES)]
    dates = pd.to_datetime(acts["action_date"])
    assert (dates > pd.Timestamp(cut)).any()  # there are later contacts the driver must not see
    last = dates[dates <= pd.Timestamp(cut)].groupby(acts["partner_id"]).max()
    expect = (pd.Timestamp(cut) - last.reindex(f.index)).dt.days
    seen = f["days_since_contact"]
    assert seen.notna().sum() > 0.5 * len(f)
    assert (seen.dropna() == expect[seen.notna()]).all()
    assert expect[seen.isna()].isna().all()  # never contacted by the cut-off
    cadence = set(contact_cadence().values())
    late = f["days_overdue"] > 0
    assert ((f.loc[late, "days_since_contact"] - f.loc[late, "days_overdue"]).dropna().isin(cadence)).all()
    assert (f.loc[~late, "days_since_contact"].dropna() <= max(cadence)).all()


def test_days_overdue_earns_its_place_out_of_time(lapse_frames) -> None:
    """Where lapses raise the hazard, the logit's days-overdue coefficient is positive (its odds ratio
    per SD well above 1) and the out-of-time ROC AUC with the driver is at least the AUC without it."""
    without = {k: v.drop(columns=["days_overdue"]) for k, v in lapse_frames.items()}
    a = churn.run_backtest(lapse_frames, horizon_days=90, candidates=("logit",))
    b = churn.run_backtest(without, horizon_days=90, candidates=("logit",))
    coef = a.odds.set_index("feature").loc["days_overdue", "coef_per_sd"]
    assert coef > 0.2, a.odds.head(10)
    auc = lambda bt: bt.metrics.loc[bt.metrics["model"] == "logit", "roc_auc"].mean()  # noqa: E731
    assert auc(a) >= auc(b), (auc(a), auc(b))
    assert "days_overdue" not in b.odds["feature"].tolist()
