"""workbench.churn.drivers: point-in-time drivers, no leakage, all cutoffs at once = one at a time."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import churn


def test_no_leakage_future_rows_do_not_change_scores(demo_db: Path, tmp_path: Path) -> None:
    """Scores at cutoff s are identical after every row dated after s is altered or deleted."""
    import shutil

    from workbench import store

    s = date(2025, 12, 31)
    copy = tmp_path / "altered.duckdb"
    shutil.copy(demo_db, copy)
    raw = store.raw_connection(store.connect(copy))
    raw.execute("DELETE FROM orders WHERE order_date > ?", [s])
    raw.execute("UPDATE surveys SET satisfaction = 0 WHERE survey_date > ?", [s])
    raw.execute("DELETE FROM conflicts WHERE reported_date > ?", [s])
    raw.execute("UPDATE conflicts SET resolved_date = NULL WHERE resolved_date > ?", [s])
    raw.execute("UPDATE incentives SET amount_paid = 0 WHERE paid_date > ?", [s])
    raw.execute("DELETE FROM trainings WHERE training_date > ?", [s])
    raw.close()

    def scores(db: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
        con = store.connect(db, read_only=True)
        cuts = churn.quarterly_cutoffs(first=date(2025, 6, 30), last=s)
        frames = churn.cutoff_frames(con, cuts, horizon_days=90)
        bt = churn.run_backtest(frames, horizon_days=90, n_scored=1, seed=0)
        feats = frames[s][["partner_id", *churn.DRIVER_FEATURES]]
        return bt.predictions.sort_values(["model", "partner_id"]).reset_index(drop=True), feats

    (before, f_before), (after, f_after) = scores(demo_db), scores(copy)
    assert set(before["cutoff"]) == {pd.Timestamp(s)}
    pd.testing.assert_frame_equal(f_before, f_after)
    pd.testing.assert_series_equal(before["score"], after["score"], check_exact=False, rtol=1e-9)
    # the alteration did reach the labels, so the test can bite
    assert after["churned"].all() and not before["churned"].all()


def test_all_cutoffs_at_once_equal_one_cutoff_at_a_time_and_a_pandas_recount(demo_con, demo_frames) -> None:
    """cutoff_frames builds every cutoff in one query per table (facts range-joined to the cutoffs):
    each frame equals the cutoff computed alone, and key drivers, snapshot columns and labels equal
    a plain pandas recount from the raw orders, so rows cannot leak between cutoffs."""
    cuts = list(demo_frames)
    assert len(cuts) >= 8
    east = churn.cutoff_frames(demo_con, cuts[::-1] + cuts[:1], region="East")  # any order, repeats collapse
    assert list(east) == cuts[::-1]
    for c in cuts:
        pd.testing.assert_frame_equal(demo_frames[c], churn.cutoff_frame(demo_con, as_of=c), check_exact=False, rtol=1e-9)
        pd.testing.assert_frame_equal(east[c], churn.cutoff_frame(demo_con, as_of=c, region="East"),
                                      check_exact=False, rtol=1e-9)
        assert set(east[c]["region"]) == {"East"}

    o = demo_con.table("orders").to_pandas()
    o["order_date"] = pd.to_datetime(o["order_date"])
    o["amount"] = o["net_amount"].astype(float)
    order_days = o.loc[~o["is_return"].fillna(False).astype(bool) & (o["amount"] >= 0), ["partner_id", "order_date"]]
    order_days = order_days.drop_duplicates().sort_values(["partner_id", "order_date"])
    p = demo_con.table("partners").to_pandas().set_index("partner_id")
    onboard, exit_ = pd.to_datetime(p["onboard_date"]), pd.to_datetime(p["exit_date"])
    day = pd.Timedelta(days=1)
    for c in cuts:
        ts = pd.Timestamp(c)
        past = order_days[order_days["order_date"] <= ts]
        g = past.groupby("partner_id")["order_date"]
        last = g.max()
        alive = onboard.le(ts) & (exit_.isna() | exit_.gt(ts))
        pop = sorted(set(last.index[last > ts - 180 * day]) & set(alive.index[alive]))
        f = demo_frames[c].set_index("partner_id")
        assert list(f.index) == pop, c
        gap = past.assign(gap=g.diff().dt.days).groupby("partner_id")["gap"]
        gaps = gap.median()
        # sales per order day after the first (Gamma-Gamma input) and the regularity of the gaps
        nr = o[~o["is_return"].fillna(False).astype(bool) & (o["amount"] >= 0) & (o["order_date"] <= ts)]
        per_day = nr.groupby(["partner_id", "order_date"])["amount"].sum().reset_index()
        first_day = per_day.groupby("partner_id")["order_date"].transform("min")
        repeat = per_day[per_day["order_date"] > first_day].groupby("partner_id")["amount"].sum()

        def sales(days: int, ts: pd.Timestamp = ts) -> pd.Series:
            return o[(o["order_date"] > ts - days * day) & (o["order_date"] <= ts)].groupby("partner_id")["amount"].sum()

        after = order_days[(order_days["order_date"] > ts) & (order_days["order_date"] <= ts + 90 * day)]
        want = pd.DataFrame({
            "recency_days": (ts - last).dt.days.astype(float),
            "n_order_days": g.size().astype(float),
            "median_gap_days": gaps,
            "order_days_90d": past[past["order_date"] > ts - 90 * day].groupby("partner_id").size().astype(float),
            "sales_90d": sales(90),
            "snap_net_sales_180d_cny": sales(180),
            "snap_orders_365d": past[past["order_date"] > ts - 365 * day].groupby("partner_id").size().astype(float),
            "repeat_sales": repeat,
            "gap_cv": gap.std() / gap.mean(),
        }).reindex(pop)
        want["churned"] = ~want.index.isin(after["partner_id"])
        for col in ("order_days_90d", "sales_90d", "snap_net_sales_180d_cny", "snap_orders_365d", "repeat_sales"):
            want[col] = want[col].fillna(0.0)
        got = f[list(want.columns)]
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, check_names=False, obj=str(c))
    assert 0 < np.mean([demo_frames[c]["churned"].mean() for c in cuts]) < 0.5


def test_no_contact_recorded_still_merges_on_the_cutoff():
    """A store without visits or communications (Online Retail) gives empty contact drivers typed like the
    frame's keys, so the driver frame's merge keeps every row (it raised on datetime vs object keys)."""
    import pandas as pd

    from workbench.churn.drivers import _contact_drivers

    frame = pd.DataFrame({"cutoff": pd.to_datetime(["2011-06-30"]).astype("datetime64[s]"), "partner_id": ["12347"]})
    got = frame.merge(_contact_drivers(None, {}, frame, None), on=["cutoff", "partner_id"], how="left")
    assert len(got) == 1 and got[["days_overdue", "days_since_contact"]].isna().all().all()
