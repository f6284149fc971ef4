"""Crash safety is tested, not assumed: an ingest process killed (SIGKILL) at random moments leaves the store
as it was before that load (or, killed after its commit, as after it), and the next ingest works (issue 13,
point 8)."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from workbench import store
from workbench.ingest import ingest_file, rollback_load

RUN = date(2026, 11, 27)
KILLS = 30
SEED = 13


def _ingest(db: str, table: str, path: str, started, seconds) -> None:
    """The victim: one ingest into the store at `db` (run in a forked server child); sets `started` when the
    ingest begins and stores its duration in `seconds`."""
    con = store.connect(db)
    started.set()
    t0 = time.perf_counter()
    ingest_file(con, table, path, run_date=RUN)
    seconds.value = time.perf_counter() - t0
    con.disconnect()


def _state(db: Path) -> dict[str, list]:
    """Every table ingest writes (contract columns, bookkeeping, before-images), sorted."""
    con = store.connect(db)
    raw = store.raw_connection(con)
    out = {}
    for t in (*store.TABLE_ORDER, "quarantine", "partner_history", "meta"):
        cols = ", ".join(f'"{c}"' for c in store.TABLES[t].column_names) if t in store.TABLES else "*"
        # an order-free fingerprint of the rows: count and the sum of row hashes
        out[t] = raw.execute(f"SELECT count(*), sum(CAST(hash(s) AS HUGEINT)) FROM (SELECT struct_pack(*COLUMNS(*)) "
                             f"AS s FROM (SELECT {cols} FROM {t}))").fetchall()
    out["loads"] = sorted(map(repr, raw.execute("SELECT load_id, table_name, content_sha256, rows_read, "
                                                "rolled_back FROM loads").fetchall()))
    for t in store.TABLE_ORDER:
        out[f"before_{t}"] = raw.execute(f"SELECT count(*) FROM {store.before_table(t)} AS b "
                                         "JOIN loads AS l ON l.load_id = b._by_load WHERE NOT l.rolled_back").fetchall()
    con.disconnect()
    return out


@pytest.mark.slow
def test_sigkill_at_random_moments_never_half_loads(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    n_partners, n_orders = 2_000, 60_000
    partners = pd.DataFrame({"partner_id": [f"P{i}" for i in range(n_partners)], "name": "n", "region": "East",
                             "channel_type": "dealer", "onboard_date": "2021-01-01"})
    partners.to_csv(tmp_path / "p.csv", index=False)
    ids = [f"O{i}" for i in range(n_orders)]
    base = pd.DataFrame({"order_id": ids, "partner_id": [f"P{i % n_partners}" for i in range(n_orders)],
                         "order_date": "2026-01-05", "net_amount": "5"})
    base.to_csv(tmp_path / "o1.csv", index=False)
    # the crashing load changes half the rows (before-images), adds new ones and quarantines some
    new = base.assign(net_amount=["7" if i % 2 else "5" for i in range(n_orders)])
    extra = pd.DataFrame({"order_id": [f"N{i}" for i in range(20_000)], "partner_id": "P1",
                          "order_date": "2026-02-05", "net_amount": ["x" if i % 100 == 0 else "3" for i in range(20_000)]})
    pd.concat([new, extra]).to_csv(tmp_path / "o2.csv", index=False)
    db = tmp_path / "crash.duckdb"
    con = store.connect(db)
    ingest_file(con, "partners", tmp_path / "p.csv", run_date=RUN)
    ingest_file(con, "orders", tmp_path / "o1.csv", run_date=RUN)
    con.disconnect()
    before = _state(db)

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["workbench.ingest", "workbench.store"])
    started, seconds = ctx.Event(), ctx.Value("d", 0.0)
    p = ctx.Process(target=_ingest, args=(str(db), "orders", str(tmp_path / "o2.csv"), started, seconds))
    p.start()  # one uninterrupted run, timed, then undone
    p.join()
    duration = seconds.value
    assert p.exitcode == 0 and duration > 0
    after = _state(db)
    assert after != before
    con = store.connect(db)
    last = store.raw_connection(con).execute("SELECT max(load_id) FROM loads").fetchone()[0]
    rollback_load(con, last)
    con.disconnect()
    assert _state(db)["orders"] == before["orders"]

    outcomes = {"before": 0, "after": 0}
    for _ in range(KILLS):
        base_state = _state(db)
        started.clear()
        p = ctx.Process(target=_ingest, args=(str(db), "orders", str(tmp_path / "o2.csv"), started, seconds))
        p.start()
        started.wait(60)
        time.sleep(rng.uniform(0.0, 0.75 * duration))  # a random moment of the ingest (its run time varies with load)
        if p.exitcode is None:
            os.kill(p.pid, signal.SIGKILL)
        p.join()
        now = _state(db)
        if now["orders"] == base_state["orders"]:
            assert now == base_state
            outcomes["before"] += 1
        else:  # killed after its commit: the whole load is there, and it rolls back cleanly
            assert now["orders"] == after["orders"] and now["quarantine"] != base_state["quarantine"]
            outcomes["after"] += 1
            con = store.connect(db)
            last = store.raw_connection(con).execute("SELECT max(load_id) FROM loads").fetchone()[0]
            rollback_load(con, last)
            con.disconnect()
            assert _state(db)["orders"] == before["orders"]
    assert outcomes["before"] >= KILLS // 3, outcomes  # many kills land inside the load, whatever the machine load
    con = store.connect(db)  # the next ingest works
    r = ingest_file(con, "orders", tmp_path / "o2.csv", run_date=RUN)
    assert (r.rows_inserted, r.rows_updated, r.rows_quarantined) == (19_800, n_orders // 2, 200)
    con.disconnect()
