"""generate() (the whole network), the churn oracle and the demo store."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.store import TABLE_ORDER
from workbench.synth.params import (
    BASE_RATE_PP,
    BETA_REBATE,
    HAZARD,
    HEALTH_PHI,
    HEALTH_SD,
    PILOT_SHARE,
    SPRING_FESTIVAL_FACTOR,
)
from workbench.synth.realistic import (
    MODES,
    REALISTIC,
    _draw_orders_realistic,
    _draw_partners_realistic,
    _realistic_missing,
    _realistic_skus,
)
from workbench.synth.tables import (
    _actions_and_trainings,
    _conflicts_table,
    _coverage_table,
    _incentives_table,
    _order_lines,
    _partners_table,
    _surveys_table,
    _truth_tables,
)
from workbench.synth.world import (
    SynthNetwork,
    _calendar,
    _draw_conflicts,
    _draw_latent,
    _draw_orders,
    _draw_partners,
    _ids,
    _simulate_churn,
)


def generate(*, partners: int = 2000, months: int = 36, seed: int = 42, end: date = date(2026, 9, 30),
             mode: str = "easy", skus: bool = False, contact_lapse: float = 0.0) -> SynthNetwork:
    """Generate a synthetic channel network of `partners` partners over `months` months ending at `end`.

    Returns a SynthNetwork whose `.tables` are the canonical tables (column order of store.TABLES; dates as
    datetime64, money in CNY rounded to 0.01) and whose `.truth` holds `partners`, `partner_month`,
    `params` and `action_effects` (see the module docstring). Deterministic for a seed.

    mode: "easy" (segments almost separable, regular ordering: unit tests that need clean truth) or
    "realistic" (overlapping segments, heavy-tailed sizes, irregular seasonal ordering, large baskets
    over thousands of SKUs, missing survey / contact data, real return shares; calibrated against the
    UCI Online Retail export, see docs/synth.md and `realistic_params`). skus (realistic only): the
    orders' product_line holds the SKU code instead of its line (truth.skus maps SKU → line).
    contact_lapse > 0 plants visits and communications and a churn hazard raised by contact lapses
    (synth.contacts; its own random stream, so 0 leaves every table as before).
    """
    if partners < 1 or months < 4:
        raise ValueError("generate needs at least 1 partner and 4 months")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    realistic = mode == "realistic"
    rng = np.random.default_rng(seed)
    w = _calendar(int(partners), int(months), end)
    (_draw_partners_realistic if realistic else _draw_partners)(rng, w)
    _draw_latent(rng, w)
    _draw_conflicts(rng, w)
    (_draw_orders_realistic if realistic else _draw_orders)(rng, w)
    if contact_lapse > 0:
        from workbench.synth.contacts import draw_contacts

        draw_contacts(seed, w, contact_lapse)
    _simulate_churn(rng, w)
    pid = _ids("P", np.arange(1, w.n + 1), 6)
    keep = w.alive[w.o_p, w.o_t]
    orders = _order_lines(rng, w.o_p[keep], w.o_day[keep] - w.window_start, w.o_ret[keep], w.o_cents[keep],
                          seg=w.seg, channel=w.channel, mix=w.mix, pid=pid, window_start=w.window_start,
                          n_lines=w.o_lines[keep] if realistic else None)
    if realistic:
        orders, sku_table = _realistic_skus(seed, orders, as_sku=skus)
    for k in ("o_p", "o_t", "o_day", "o_ret", "o_cents"):
        del w.arrays[k]
    tables = {"orders": orders, "incentives": _incentives_table(w, pid), "surveys": _surveys_table(rng, w, pid)}
    tables["actions"], tables["trainings"] = _actions_and_trainings(rng, w, pid)
    if contact_lapse > 0:
        from workbench.synth.contacts import CADENCE_DAYS, contact_actions

        tables["actions"] = contact_actions(w, pid, tables["actions"])
    tables["conflicts"] = _conflicts_table(rng, w, pid)
    tables["coverage"] = _coverage_table(rng, w, pid)
    tables["partners"] = _partners_table(rng, w, pid)
    params: dict[str, object] = {
        "beta_rebate": BETA_REBATE,
        **{f"hazard_{k}": v for k, v in HAZARD.items()},
        "seed": seed,
        "partners": w.n,
        "months": w.T,
        "end": pd.Timestamp(end).date().isoformat(),
        "base_rate_pp_before_2025": BASE_RATE_PP[0],
        "base_rate_pp_from_2025": BASE_RATE_PP[1],
        "pilot_share": PILOT_SHARE,
        "health_phi": HEALTH_PHI,
        "health_sd": HEALTH_SD,
        "spring_festival_factor": SPRING_FESTIVAL_FACTOR,
    }
    if contact_lapse > 0:
        params.update({"contact_lapse": float(contact_lapse), "contact_cadence_days": CADENCE_DAYS})
    truth = _truth_tables(w, pid, params)
    if realistic:
        tables = _realistic_missing(seed, tables)
        params.update({"mode": "realistic", **{f"realistic_{k}": v for k, v in REALISTIC.items()
                                               if np.isscalar(v)}})
        truth["params"] = pd.DataFrame({"key": list(params), "value": [str(v) for v in params.values()]})
        truth["skus"] = sku_table
    return SynthNetwork(tables={k: tables[k] for k in TABLE_ORDER}, truth=truth, params=params)



def true_churn_probability(truth_partner_month: pd.DataFrame, *, as_of: date | str | pd.Timestamp,
                           horizon_days: int = 90) -> pd.DataFrame:
    """Oracle churn probability per partner alive in the month of `as_of`: 1 - prod(1 - hazard).

    Uses the true monthly hazards of the months starting in (as_of, as_of + horizon_days]
    (hazard[t] = probability of having stopped ordering for good from month t on). Months beyond
    the generated window are ignored. Returns partner_id, p_churn (0..1), one row per partner.
    """
    tpm = truth_partner_month
    as_of_ts = pd.Timestamp(as_of).normalize()
    current = as_of_ts.to_period("M").to_timestamp()
    month = pd.to_datetime(tpm["month"])
    alive_now = tpm.loc[(month == current) & tpm["alive"].astype(bool), "partner_id"]
    future = tpm.loc[(month > as_of_ts) & (month <= as_of_ts + pd.Timedelta(days=horizon_days)),
                     ["partner_id", "hazard"]]
    log_surv = np.log1p(-future["hazard"].clip(upper=1 - 1e-12)).groupby(future["partner_id"]).sum()
    out = pd.DataFrame({"partner_id": alive_now.to_numpy()})
    out["p_churn"] = 1.0 - np.exp(out["partner_id"].map(log_surv).fillna(0.0).to_numpy(dtype=float))
    return out.reset_index(drop=True)


def build_demo_store(db: str | Path, *, partners: int = 2000, months: int = 36, seed: int = 42,
                     mode: str = "realistic", contact_lapse: float = 0.0) -> str:
    """Generate the network, ingest it through the validated path into a fresh store at `db`, write truth.

    Replaces any existing file at `db`. mode: "realistic" (the demo's default: as hard as real exports) or
    "easy" (clean planted truth for unit tests; see `generate`). Returns a one-line
    summary (rows per table, seconds).
    """
    from workbench.ingest import ingest_frame
    from workbench.store import connect, raw_connection

    t0 = time.perf_counter()
    end = date(2026, 9, 30)
    net = generate(partners=partners, months=months, seed=seed, end=end, mode=mode, contact_lapse=contact_lapse)
    path = Path(db)
    for stale in (path, path.with_name(path.name + ".wal")):
        if stale.exists():
            stale.unlink()
    con = connect(path)
    quarantined = 0
    source = f"synth:partners={partners},months={months},seed={seed}"
    for name in TABLE_ORDER:
        result = ingest_frame(con, name, net.tables[name], source=f"{source}:{name}", run_date=end)
        quarantined += int(getattr(result, "rows_quarantined", 0) or 0)
    raw = raw_connection(con)
    raw.execute("CREATE SCHEMA IF NOT EXISTS truth")
    for name, frame in net.truth.items():
        view = f"_synth_truth_{name}"
        raw.register(view, frame)
        raw.execute(f"CREATE OR REPLACE TABLE truth.{name} AS SELECT * FROM {view}")
        raw.unregister(view)
    raw.execute("CHECKPOINT")
    con.disconnect()
    seconds = time.perf_counter() - t0
    counts = ", ".join(f"{k} {len(v):,}" for k, v in net.tables.items())
    extra = f"; {quarantined:,} rows quarantined" if quarantined else ""
    return f"Demo store {path}: {counts} (seed {seed}){extra} in {seconds:.1f} s."
