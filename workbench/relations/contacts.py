"""Contact cadence: days since each active partner's last visit or communication against its tier's rhythm."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from workbench.vocab import Scope

CONTACT_TYPES: tuple[str, ...] = ("visit", "communication")
DEFAULT_CADENCE: dict[str, int] = {"core": 30, "growth": 60, "pilot": 90}
ACTIVE_DAYS = 180  # an active partner ordered (non-return) in the 180 days up to as_of, as in the churn population

STATUS_COLUMNS = ["partner_id", "tier", "manager_id", "last_contact_date", "days_since_contact",
                  "contact_every_days", "overdue", "days_overdue"]


def contact_cadence(source: str | Path | dict | None = None) -> dict[str, int]:
    """Days between contacts per tier: `contact_every_days` of the tier config (config/tiers.yaml), else 30/60/90."""
    from workbench.segment import load_tier_config

    given = load_tier_config(source).contact_every_days or {}
    return {**DEFAULT_CADENCE, **{str(k): int(v) for k, v in given.items()}}


def last_contacts(actions: pd.DataFrame, *, as_of: date | str) -> pd.DataFrame:
    """partner_id, last_contact_date: the latest visit/communication on or before `as_of` (one row per partner)."""
    cut = pd.Timestamp(as_of)
    a = actions[actions["action_type"].isin(CONTACT_TYPES)]
    a = a[pd.to_datetime(a["action_date"]) <= cut]
    out = a.groupby("partner_id", as_index=False)["action_date"].max()
    out = out.rename(columns={"action_date": "last_contact_date"})
    out["last_contact_date"] = pd.to_datetime(out["last_contact_date"])
    return out


def contact_status(partners: pd.DataFrame, actions: pd.DataFrame, *, as_of: date | str,
                   cadence: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per partner of `partners` (partner_id, tier, manager_id): last contact, days since, overdue.

    days_since_contact counts calendar days from the last contact to `as_of`; a partner never contacted
    has no date, no day count, and is overdue. days_overdue = days since contact − cadence (≥ 0; a
    never-contacted partner counts as overdue by its whole cadence).
    """
    cadence = {**DEFAULT_CADENCE, **(cadence or {})}
    cut = pd.Timestamp(as_of)
    base = partners[["partner_id", "tier"]].copy()
    base["manager_id"] = partners["manager_id"] if "manager_id" in partners else pd.NA
    out = base.merge(last_contacts(actions, as_of=as_of), on="partner_id", how="left")
    out["days_since_contact"] = (cut - out["last_contact_date"]).dt.days.astype("Int64")
    out["contact_every_days"] = out["tier"].map(cadence).astype("Int64")
    late = out["days_since_contact"] > out["contact_every_days"]
    out["overdue"] = (late.fillna(False) | out["last_contact_date"].isna()).astype(bool)
    over = (out["days_since_contact"] - out["contact_every_days"]).clip(lower=0)
    out["days_overdue"] = over.fillna(out["contact_every_days"]).where(out["overdue"], 0).astype("Int64")
    return out[STATUS_COLUMNS].sort_values(["overdue", "days_overdue", "partner_id"],
                                           ascending=[False, False, True]).reset_index(drop=True)


def contact_adherence(status: pd.DataFrame, *, by: str | list[str] = "tier") -> pd.DataFrame:
    """Per group: partners, contacted_in_cadence, overdue, never_contacted, adherence (share in cadence, 0–1)."""
    keys = [by] if isinstance(by, str) else list(by)
    frame = status.copy()
    for k in keys:
        frame[k] = frame[k].astype("string").fillna("unassigned")
    g = frame.groupby(keys, dropna=False)
    out = g.agg(partners=("partner_id", "size"), overdue=("overdue", "sum"),
                never_contacted=("last_contact_date", lambda s: int(s.isna().sum())))
    out["contacted_in_cadence"] = out["partners"] - out["overdue"]
    out["adherence"] = out["contacted_in_cadence"] / out["partners"]
    return out.reset_index()[[*keys, "partners", "contacted_in_cadence", "overdue", "never_contacted", "adherence"]]


def _active_partners(tables: dict[str, Any], as_of: date) -> pd.DataFrame:
    """partner_id, manager_id of partners active (non-return order) in the 180 days up to as_of, not exited."""
    p, o = tables["partners"], tables["orders"]
    start = pd.Timestamp(as_of) - pd.Timedelta(days=ACTIVE_DAYS - 1)
    lines = o.filter((o.order_date >= ibis.literal(start.date())) & (o.order_date <= ibis.literal(as_of))
                     & ~o.is_return.fill_null(False))
    ids = lines.select("partner_id").distinct()
    keep = p.filter(p.exit_date.isnull() | (p.exit_date > ibis.literal(as_of))) if "exit_date" in p.columns else p
    cols = ["partner_id", "manager_id"] if "manager_id" in keep.columns else ["partner_id"]
    frame = keep.semi_join(ids, "partner_id").select(*cols).to_pandas()
    if "manager_id" not in frame:
        frame["manager_id"] = pd.NA
    return frame


def contacts_from_store(con: ibis.BaseBackend, *, as_of: date | str, region: str | Scope | None = None,
                        manager: str | None = None, cadence: dict[str, int] | None = None) -> pd.DataFrame:
    """contact_status for the store's active partners at `as_of` in a region or a manager's book
    (tiers from the network scorecard)."""
    from workbench import features, segment

    as_of = pd.Timestamp(as_of).date()
    scope = Scope.parse(region, manager)
    tables = features.scoped_tables(con, scope, as_of=as_of)
    partners = _active_partners(tables, as_of)
    tiers = segment.partner_tiers(con, as_of=as_of, region=scope.region)
    partners = partners.merge(tiers, on="partner_id", how="left")
    partners["tier"] = partners["tier"].fillna("pilot")
    actions = tables["actions"].to_pandas() if "actions" in tables else pd.DataFrame(
        {"partner_id": [], "action_date": [], "action_type": []})
    return contact_status(partners, actions, as_of=as_of, cadence=cadence or contact_cadence())
