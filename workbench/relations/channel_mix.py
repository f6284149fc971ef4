"""Channel-type dependence: sales share, trend and concentration by channel type (and by e-commerce platform
when partners record one), alerts, partner review list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from workbench.config import from_dict, load_yaml
from workbench.paths import config_file
from workbench.vocab import Scope


@dataclass(frozen=True)
class ChannelMixConfig:
    """Alert thresholds for channel dependence and the partner review list (`channel_mix:` in config/retro.yaml)."""

    max_channel_share: float = 0.50      # alert when one channel type's share of quarterly net sales passes this (0-1)
    share_drop_points: float = 0.10      # alert when a channel type's share fell by more than this vs a year earlier
    max_hhi: float = 0.40                # alert when the channel-type HHI (sum of squared shares, 0-1) passes this
    decline_share: float = 0.30          # review a partner whose last-two-quarter sales fell by more than this y/y
    low_satisfaction: float = 60.0       # review a partner whose latest satisfaction is below this (0-100)
    gross_margin: float = 0.25           # contribution = margin x net sales − rebates paid (store currency)


def load_channel_mix_config(source: str | Path | dict | None = None) -> ChannelMixConfig:
    """Thresholds from `channel_mix:` in config/retro.yaml (or `source`); defaults where absent."""
    if isinstance(source, dict):
        return from_dict(ChannelMixConfig, source, where="channel_mix")
    path = Path(source) if source else config_file("retro.yaml")
    data = load_yaml(path) if path.exists() else {}
    return from_dict(ChannelMixConfig, (data or {}).get("channel_mix") or {}, where=f"{path}: channel_mix")


GROUPINGS = ("channel_type", "platform")  # what a mix can be by; alert codes start channel_ / platform_


def channel_mix(sales: pd.DataFrame, by: str = "channel_type") -> pd.DataFrame:
    """Per quarter and channel type (or `by`, e.g. platform): net sales, share (0–1), share a year earlier and
    its change, share the quarter before and its change, net sales' change on the quarter before (fraction),
    and the quarter's HHI.

    sales: quarter (e.g. "2026Q3"), `by`, net_sales (store currency). Shares are of the quarter's
    total; hhi is the quarter's sum of squared shares (1 = one group only). A group absent in
    the earlier quarter has no earlier share (NaN), not 0.
    """
    s = sales.groupby(["quarter", by], as_index=False)["net_sales"].sum()
    total = s.groupby("quarter")["net_sales"].transform("sum")
    s["share"] = np.where(total > 0, s["net_sales"] / total.where(total > 0, 1), np.nan)
    s["hhi"] = s.groupby("quarter")["share"].transform(lambda x: float((x.clip(lower=0) ** 2).sum()))
    q = pd.PeriodIndex(s["quarter"], freq="Q")
    prev = s.assign(quarter=(q + 4).astype(str))[["quarter", by, "share"]]
    s = s.merge(prev.rename(columns={"share": "share_year_ago"}), on=["quarter", by], how="left")
    s["share_change"] = s["share"] - s["share_year_ago"]
    last = s.assign(quarter=(pd.PeriodIndex(s["quarter"], freq="Q") + 1).astype(str))[["quarter", by, "share", "net_sales"]]
    s = s.merge(last.rename(columns={"share": "share_prev_quarter", "net_sales": "_sales_prev"}),
                on=["quarter", by], how="left")
    s["share_change_qoq"] = s["share"] - s["share_prev_quarter"]
    s["sales_change_qoq"] = np.where(s["_sales_prev"] > 0, s["net_sales"] / s["_sales_prev"].where(
        s["_sales_prev"] > 0, 1) - 1, np.nan)
    s = s.drop(columns="_sales_prev")
    return s.sort_values(["quarter", "net_sales"], ascending=[True, False], ignore_index=True)


def channel_alerts(mix: pd.DataFrame, *, quarter: str, config: ChannelMixConfig | None = None,
                   by: str = "channel_type") -> pd.DataFrame:
    """Alerts of `quarter`: code (channel_share_high / channel_share_drop / channel_hhi_high; platform_… for
    a mix by platform), the group (column `by`), value, threshold. The same thresholds serve both groupings."""
    cfg = config or ChannelMixConfig()
    kind = "channel" if by == "channel_type" else by
    q = mix[mix["quarter"] == str(quarter)] if len(mix) else mix
    rows = [(f"{kind}_share_high", getattr(r, by), r.share, cfg.max_channel_share)
            for r in q.itertuples() if r.share > cfg.max_channel_share]
    rows += [(f"{kind}_share_drop", getattr(r, by), r.share_change, -cfg.share_drop_points)
             for r in q.itertuples() if pd.notna(r.share_change) and r.share_change < -cfg.share_drop_points]
    if len(q) and q["hhi"].iloc[0] > cfg.max_hhi:
        rows.append((f"{kind}_hhi_high", None, float(q["hhi"].iloc[0]), cfg.max_hhi))
    return pd.DataFrame(rows, columns=["code", by, "value", "threshold"])


def partner_review(quarterly: pd.DataFrame, satisfaction: pd.DataFrame, rebates: pd.DataFrame, *,
                   quarter: str, config: ChannelMixConfig | None = None) -> pd.DataFrame:
    """Partners to review in `quarter`: declining, low satisfaction or negative contribution after rebates.

    quarterly: partner_id, quarter, net_sales; satisfaction: partner_id, satisfaction (latest score);
    rebates: partner_id, rebates_paid over the last four quarters. Returns partner_id, sales_recent (last
    two quarters), sales_year_ago (same two quarters a year earlier), change (−1..), satisfaction,
    contribution (margin × last-four-quarter sales − rebates paid), and one boolean per reason; only
    partners with at least one reason, the largest contribution loss first. Money in store currency.
    """
    cfg = config or ChannelMixConfig()
    q = pd.Period(str(quarter), "Q")
    recent = {str(q), str(q - 1)}
    year_ago = {str(q - 4), str(q - 5)}
    last4 = {str(q - i) for i in range(4)}
    qs = quarterly.copy()
    per = pd.DataFrame({
        "sales_recent": qs[qs["quarter"].isin(recent)].groupby("partner_id")["net_sales"].sum(),
        "sales_year_ago": qs[qs["quarter"].isin(year_ago)].groupby("partner_id")["net_sales"].sum(),
        "sales_4q": qs[qs["quarter"].isin(last4)].groupby("partner_id")["net_sales"].sum(),
    }).fillna(0.0)
    per["change"] = np.where(per["sales_year_ago"] > 0, per["sales_recent"] / per["sales_year_ago"].where(
        per["sales_year_ago"] > 0, 1) - 1, np.nan)
    per = per.join(satisfaction.set_index("partner_id")["satisfaction"], how="left")
    per = per.join(rebates.set_index("partner_id")["rebates_paid"], how="left").fillna({"rebates_paid": 0.0})
    per["contribution"] = cfg.gross_margin * per["sales_4q"] - per["rebates_paid"]
    per["declining"] = per["change"] < -cfg.decline_share
    per["low_satisfaction"] = per["satisfaction"] < cfg.low_satisfaction
    per["negative_contribution"] = per["contribution"] < 0
    flagged = per[per[["declining", "low_satisfaction", "negative_contribution"]].any(axis=1)]
    out = flagged.reset_index().rename(columns={"index": "partner_id"})
    cols = ["partner_id", "sales_recent", "sales_year_ago", "change", "satisfaction", "rebates_paid",
            "contribution", "declining", "low_satisfaction", "negative_contribution"]
    return out[cols].sort_values(["contribution", "partner_id"], ignore_index=True)


def _quarterly_sales(t: dict, *, start: date, end: date, by: str) -> pd.DataFrame:
    """quarter, `by`, net_sales (store currency) of orders in [start, end]; by platform, only the orders of
    partners with a (non-blank) platform."""
    o = t["orders"].filter((t["orders"].order_date >= ibis.literal(start)) & (t["orders"].order_date <= ibis.literal(end)))
    if by in GROUPINGS:
        p = t["partners"].select("partner_id", by)
        if by == "platform":
            p = p.mutate(platform=p.platform.strip()).filter(lambda x: x.platform.notnull() & (x.platform != ""))
        o = o.join(p, "partner_id")
    frame = o.select(by, "order_date", "net_amount").to_pandas()
    frame["quarter"] = pd.to_datetime(frame["order_date"]).dt.to_period("Q").astype(str)
    frame["net_sales"] = frame["net_amount"].astype(float)
    return frame.groupby(["quarter", by], as_index=False)["net_sales"].sum()


MIX_COLUMNS = ("quarter", "net_sales", "share", "hhi", "share_year_ago", "share_change", "share_prev_quarter",
               "share_change_qoq", "sales_change_qoq")


def channel_mix_from_store(con: ibis.BaseBackend, *, quarter: str, region: str | Scope | None = None,
                           quarters: int = 8, by: str = "channel_type") -> pd.DataFrame:
    """channel_mix over the `quarters` quarters up to `quarter`, read from the store (scoped to `region`).

    by="platform": the mix over the e-commerce platforms of the partners that record one (shares of those
    partners' net sales); an empty frame when the store has no platform column or no partner has one.
    """
    from workbench import features

    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}.")
    if by == "platform" and not has_platforms(con):
        return pd.DataFrame({c: [] for c in (MIX_COLUMNS[0], by, *MIX_COLUMNS[1:])})
    q = pd.Period(str(quarter), "Q")
    t = features.scoped_tables(con, region, as_of=q.end_time.date())
    start, end = (q - (quarters - 1)).start_time.date(), q.end_time.date()
    return channel_mix(_quarterly_sales(t, start=start, end=end, by=by), by=by)


def has_platforms(con: ibis.BaseBackend) -> bool:
    """Whether the store's partners table has a platform column with at least one non-blank value."""
    partners = con.table("partners")
    if "platform" not in partners.columns:
        return False
    p = partners.platform.strip()
    return bool(partners.filter(p.notnull() & (p != "")).count().to_pandas() > 0)


def partner_review_from_store(con: ibis.BaseBackend, *, quarter: str, region: str | Scope | None = None,
                              config: ChannelMixConfig | None = None) -> pd.DataFrame:
    """partner_review for `quarter` with sales, latest satisfaction and rebates paid read from the store."""
    from workbench import features

    q = pd.Period(str(quarter), "Q")
    t = features.scoped_tables(con, region, as_of=q.end_time.date())
    end = q.end_time.date()
    quarterly = _quarterly_sales(t, start=(q - 5).start_time.date(), end=end, by="partner_id")
    if "surveys" in t:
        s = t["surveys"].filter(t["surveys"].survey_date <= ibis.literal(end)).select(
            "partner_id", "survey_date", "satisfaction").to_pandas()
        sat = s.sort_values("survey_date").groupby("partner_id", as_index=False).last()[["partner_id", "satisfaction"]]
    else:
        sat = pd.DataFrame({"partner_id": [], "satisfaction": []})
    if "incentives" in t:
        inc = t["incentives"]
        r = inc.filter((inc.period_end >= ibis.literal((q - 3).start_time.date())) & (inc.period_end <= ibis.literal(end)))
        reb = r.group_by("partner_id").aggregate(rebates_paid=r.amount_paid.fill_null(0).sum()).to_pandas()
        reb["rebates_paid"] = reb["rebates_paid"].astype(float)
    else:
        reb = pd.DataFrame({"partner_id": [], "rebates_paid": []})
    return partner_review(quarterly, sat, reb, quarter=str(q), config=config)
