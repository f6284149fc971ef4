"""The command line around ingest: loads, rollback, the demo's refusal, and one-sentence errors for what a
user can cause (issue 13, points 2, 6 and 7). Each runs through `workbench.cli.main`."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench import cli, store

PARTNERS = [["partner_id", "name", "region", "channel_type", "onboard_date"],
            ["P1", "One", "East", "dealer", "2021-03-01"], ["P2", "Two", "South", "retailer", "2022-01-01"]]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(err: str) -> str:
    """The error line: exactly one line, starting 'error: ', no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_ingest_loads_rollback_round_trip(tmp_path: Path, capsys) -> None:
    db, p = tmp_path / "s.duckdb", write_csv(tmp_path / "p.csv", PARTNERS)
    code, out, _ = run(capsys, "ingest", "partners", p, "--db", db)
    assert code == 0 and "load 1" in out
    code, out, _ = run(capsys, "ingest", "partners", p, "--db", db)
    assert code == 0 and "identical content" in out and "nothing changed" in out
    moved = write_csv(tmp_path / "m.csv", [PARTNERS[0], ["P1", "One", "North", "dealer", "2021-03-01"]])
    code, out, _ = run(capsys, "ingest", "partners", moved, "--db", db, "--replace", "--effective", "2026-07-01")
    assert code == 0 and "load 2" in out and "replace mode" in out
    code, out, _ = run(capsys, "loads", "--db", db, "--out", tmp_path / "loads.csv")
    loads = pd.read_csv(tmp_path / "loads.csv")
    assert {"load_id", "table", "file", "content_sha256", "rows_read", "rows_accepted", "rows_quarantined",
            "loaded_at", "rolled_back"} <= set(loads.columns)
    assert loads["load_id"].tolist() == [1, 2]
    code, out, _ = run(capsys, "loads", "--db", db)
    assert code == 0 and "m.csv" in out
    code, out, err = run(capsys, "rollback", "1", "--db", db)
    assert code == 2 and "load 2" in one_sentence(err)
    code, out, _ = run(capsys, "rollback", "2", "--db", db)
    assert code == 0 and "Rolled back load 2" in out
    con = store.connect(db, read_only=True)
    assert store.raw_connection(con).execute("SELECT region FROM partners WHERE partner_id = 'P1'").fetchall() == [
        ("East",)]
    con.disconnect()


def test_demo_refuses_a_store_with_user_loads(tmp_path: Path, capsys) -> None:
    db = tmp_path / "mine.duckdb"
    assert run(capsys, "ingest", "partners", write_csv(tmp_path / "p.csv", PARTNERS), "--db", db)[0] == 0
    code, _, err = run(capsys, "demo", "--db", db, "--partners", "30", "--months", "6")
    assert code == 2 and "--force" in one_sentence(err) and "p.csv" in err
    assert run(capsys, "demo", "--db", db, "--check")[0] == 2
    code, out, _ = run(capsys, "demo", "--db", db, "--partners", "30", "--months", "6", "--force")
    assert code == 0
    assert run(capsys, "demo", "--db", db, "--check")[0] == 0  # the demo's own store may be replaced


def test_store_locked_by_another_process_says_how_to_release_it(tmp_path: Path, capsys) -> None:
    db = tmp_path / "locked.duckdb"
    store.connect(db).disconnect()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, _, err = run(capsys, "ingest", "partners", write_csv(tmp_path / "p.csv", PARTNERS), "--db", db)
        line = one_sentence(err)
        assert code == 2 and f"process {holder.pid}" in line and "close it there" in line
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("exc, words", [
    (PermissionError(errno.EACCES, "Permission denied", "/srv/store.duckdb"), "Permission denied for /srv/store.duckdb"),
    (OSError(errno.ENOSPC, "No space left on device", "/srv/store.duckdb.wal"), "The disk is full"),
], ids=["permission", "disk-full"])
def test_permission_and_disk_full_are_one_sentence(tmp_path: Path, capsys, monkeypatch, exc, words) -> None:
    """Simulated: the store's writer raises what the OS would (as root, permissions cannot be denied)."""
    import workbench.ingest.loads as loads_mod

    def fail(*a, **k):
        raise exc

    monkeypatch.setattr(loads_mod, "_upsert", fail)
    db = tmp_path / "s.duckdb"
    code, _, err = run(capsys, "ingest", "partners", write_csv(tmp_path / "p.csv", PARTNERS), "--db", db)
    assert code == 2 and words in one_sentence(err)
    con = store.connect(db, read_only=True)  # nothing was written
    assert store.raw_connection(con).execute("SELECT count(*) FROM partners").fetchone() == (0,)
    con.disconnect()


@pytest.mark.parametrize("case, words", [
    ("empty", "is empty"), ("unreadable", "neither UTF-8 nor GB18030"), ("missing", "does not exist"),
    ("table", "unknown table 'partner'"), ("out", "must end in .csv or .xlsx"),
])
def test_user_errors_are_one_sentence(tmp_path: Path, capsys, case: str, words: str) -> None:
    db = tmp_path / "s.duckdb"
    f = tmp_path / "p.csv"
    if case == "empty":
        f.write_bytes(b"")
    elif case == "unreadable":
        f.write_bytes(b"partner_id,name\n\xff\xfe\x00\x81\x82\x83\xff\n")
    elif case != "missing":
        write_csv(f, PARTNERS)
    argv = {"table": ["ingest", "partner", f], "out": ["loads", "--out", tmp_path / "loads.txt"]}.get(
        case, ["ingest", "partners", f])
    code, _, err = run(capsys, *argv, "--db", db)
    assert code == 2 and words in one_sentence(err)
    if case == "out":
        assert not db.exists()  # checked before any work: the store was not even created
