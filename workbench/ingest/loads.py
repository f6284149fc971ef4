"""One ingest is one load: read → validate → write the store in one transaction, quarantine and log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from workbench.errors import IngestError
from workbench.ingest._sql import _first_line, _lit, _raw, _table_spec
from workbench.ingest.mapping import Mapping, load_mapping
from workbench.ingest.read import (
    _file_kind,
    _frame_sha256,
    _load_csv,
    _load_parquet,
    _load_xlsx,
    _NotUtf8,
    _Sha256Thread,
)
from workbench.ingest.upsert import _upsert
from workbench.ingest.validate import _check, _Checked, _classify_repeats
from workbench.store import Table

LARGE_FILE_BYTES = 20 * 1024 * 1024  # show a progress bar above this size when progress=True


@dataclass
class IngestResult:
    """What one ingest did: rows read, accepted, quarantined (by reason); `skipped` if nothing changed."""

    table: str
    file: str
    sha256: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Human summary: one line of counts, then one line per quarantine reason."""
        lines = [
            f"{self.file} → {self.table}: {self.rows_read:,} rows read, {self.rows_accepted:,} accepted, "
            f"{self.rows_quarantined:,} quarantined."
        ]
        for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {n:>10,}  {reason}")
        if self.ignored_columns:
            lines.append(f"  ignored columns (not in the contract): {', '.join(self.ignored_columns)}")
        return "\n".join(lines)


def ingest_file(
    con: Any,
    table: str,
    path: str | Path,
    *,
    mapping: Mapping | dict | str | Path | None = None,
    progress: bool = False,
    run_date: date | None = None,
) -> IngestResult:
    """Validate and load one CSV (utf-8, utf-8-sig, gb18030; .gz ok), XLSX or Parquet export into `table`.

    con: the store (an Ibis DuckDB backend from store.connect, or a raw duckdb connection).
    mapping: header mapping (path, dict or Mapping); None uses config/mapping.yaml.
    run_date: dates after it are "in the future"; None means the date of this run.
    Returns an IngestResult; raises IngestError (nothing written) on a file-level problem.
    """
    path = Path(path)
    where = str(path)
    spec = _table_spec(table, where)
    if not path.exists():
        raise IngestError(f"{where} does not exist.")
    if not path.is_file():
        raise IngestError(f"{where} is not a file.")
    if path.stat().st_size == 0:
        raise IngestError(f"{where} is empty (0 bytes).")
    maps = load_mapping(mapping)
    raw = _raw(con)
    hasher = _Sha256Thread(path)
    hasher.start()
    bar = _bar(progress and path.stat().st_size >= LARGE_FILE_BYTES, where)
    tmp_files: list[Path] = []
    try:
        suffixes = [s.lower() for s in path.suffixes]
        kind = _file_kind(suffixes, where)
        with _fast_settings(raw):
            result = _ingest_file_txn(raw, path, spec, maps, where, kind, hasher, run_date, bar, tmp_files)
    finally:
        hasher.join()
        _close(bar)
        for f in tmp_files:
            f.unlink(missing_ok=True)
    return result


def _ingest_file_txn(
    raw: duckdb.DuckDBPyConnection,
    path: Path,
    spec: Table,
    maps: Mapping,
    where: str,
    kind: str,
    hasher: _Sha256Thread,
    run_date: date | None,
    bar: Any,
    tmp_files: list[Path],
) -> IngestResult:
    """Validate one file into temporary tables, then write the store in one transaction."""
    for attempt in range(2):
        checked: _Checked | None = None
        try:
            source = ""
            if kind == "csv":
                source = _load_csv(raw, path, where, tmp_files, force_gb18030=attempt > 0)
            elif kind == "xlsx":
                _load_xlsx(raw, path, spec, maps, where)
            else:
                source = _load_parquet(raw, path, where)
            _step(bar, "read")
            try:
                checked = _check(raw, spec, maps, where, run_date, source)
            except duckdb.InvalidInputException as exc:  # the file is parsed here, while validating
                if kind == "csv" and attempt == 0 and "unicode" in str(exc).lower():
                    raise _NotUtf8 from exc
                raise IngestError(f"{where} could not be read ({_first_line(exc)}).") from exc
            _step(bar, "validate")
            hasher.join()
            if hasher.error is not None:
                raise IngestError(f"{where} could not be read ({hasher.error}).")
        except _NotUtf8:
            _drop_temp(raw)
            continue
        except BaseException:
            if checked is not None and checked.fetch is not None:
                checked.fetch.join()
            _drop_temp(raw)
            raise
        return _store_checked(raw, spec, checked, where, hasher.hexdigest, bar)
    raise IngestError(f"{where} is neither UTF-8 nor GB18030 text.")


def _store_checked(raw: duckdb.DuckDBPyConnection, spec: Table, checked: _Checked, where: str, digest: str,
                   bar: Any) -> IngestResult:
    """Write the checked rows to the store in one transaction (rolled back on any error), then drop temp tables."""
    try:
        raw.execute("BEGIN TRANSACTION")
        try:
            result = _write(raw, spec, checked, where, digest, bar)
            raw.execute("COMMIT")
        except BaseException:
            _rollback(raw)
            raise
    finally:
        if checked.fetch is not None:
            checked.fetch.join()
        _drop_temp(raw)
    return result


def _drop_temp(raw: duckdb.DuckDBPyConnection) -> None:
    """Drop ingest's temporary tables and view and reset its variables (each may be absent)."""
    for t in ("_wb_checked", "_wb_candh", "_wb_cand", "_wb_dups", "_wb_reread", "_wb_fkmiss", "_wb_sheet"):
        raw.execute(f"DROP TABLE IF EXISTS temp.main.{t}")
    raw.execute("DROP VIEW IF EXISTS temp.main._wb_raw")
    for (name,) in raw.execute("SELECT name FROM duckdb_variables() WHERE starts_with(name, '_wb_')").fetchall():
        raw.execute(f"RESET VARIABLE {name}")


def _rollback(raw: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction; a failed COMMIT has already ended it (keep the original error)."""
    try:
        raw.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass


@contextmanager
def _fast_settings(raw: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Ingest's connection settings, restoring the connection's own afterwards.

    Common-subexpression elimination and the IN-list-to-join rewrite both hoist the (rarely needed)
    cleaning expressions out of CASE/COALESCE, so every row paid for them: 5x slower validation; they are
    disabled. Insertion order is preserved: the checked table's row ids are the file's row numbers.
    """
    before = raw.execute(
        "SELECT current_setting('disabled_optimizers'), current_setting('preserve_insertion_order')").fetchone()
    disabled = before[0] or ""
    wanted = sorted({*filter(None, (x.strip() for x in disabled.split(","))), "common_subexpressions", "in_clause"})
    raw.execute(f"SET disabled_optimizers = {_lit(','.join(wanted))}")
    raw.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        raw.execute(f"SET disabled_optimizers = {_lit(disabled)}")
        raw.execute(f"SET preserve_insertion_order = {'true' if before[1] else 'false'}")


def ingest_frame(
    con: Any,
    table: str,
    frame: pd.DataFrame,
    *,
    source: str,
    mapping: Mapping | dict | str | Path | None = None,
    run_date: date | None = None,
) -> IngestResult:
    """Validate and load a DataFrame into `table` exactly as ingest_file would (source names it in logs).

    Typed columns (dates, numbers) are checked directly; text columns are parsed as from a CSV.
    """
    spec = _table_spec(table, source)
    maps = load_mapping(mapping)
    raw = _raw(con)
    digest = _frame_sha256(frame)
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    with _fast_settings(raw):
        return _ingest_frame_txn(raw, spec, frame, maps, source, digest, run_date)


def _ingest_frame_txn(
    raw: duckdb.DuckDBPyConnection,
    spec: Table,
    frame: pd.DataFrame,
    maps: Mapping,
    source: str,
    digest: str,
    run_date: date | None,
) -> IngestResult:
    raw.register("_wb_frame", frame)
    try:
        try:
            raw.execute("CREATE OR REPLACE TEMP VIEW _wb_raw AS SELECT * FROM _wb_frame")
            checked = _check(raw, spec, maps, source, run_date)
        except BaseException:
            _drop_temp(raw)
            raise
        return _store_checked(raw, spec, checked, source, digest, None)
    finally:
        raw.unregister("_wb_frame")


def _write(raw: duckdb.DuckDBPyConnection, spec: Table, checked: _Checked, where: str, digest: str,
           bar: Any) -> IngestResult:
    """Inside the store's transaction: upsert good rows, quarantine bad ones, log the file."""
    # The run time: the first ingest of this content keeps its time, so a re-ingest writes identical rows.
    prev = raw.execute(
        "SELECT min(ingested_at) FROM ingest_log WHERE table_name = ? AND sha256 = ?", [spec.name, digest]
    ).fetchone()[0]
    stamp = prev if prev is not None else datetime.now().replace(microsecond=0)
    _upsert(raw, spec)
    _step(bar, "upsert")
    if checked.fetch is not None:  # the raw rows read beside the upsert: classify the repeats, add the text
        _classify_repeats(raw, spec, checked, checked.fetch.result(raw))
    raw.execute(
        "DELETE FROM quarantine WHERE table_name = ? AND (file = ? OR file IN "
        "(SELECT file FROM ingest_log WHERE table_name = ? AND sha256 = ?))",
        [spec.name, where, spec.name, digest],
    )
    raw.execute(
        "INSERT INTO quarantine SELECT ?, ?, _wb_row, _wb_column, _wb_value, _wb_reason, ?, _wb_row_data FROM ("
        f"SELECT {checked.decoded()} FROM _wb_checked WHERE _wb_bad IS NOT NULL) "
        "AS _wb_q(_wb_row, _wb_column, _wb_value, _wb_reason, _wb_row_data) ORDER BY _wb_row",
        [spec.name, where, stamp],
    )
    counts = raw.execute("SELECT _wb_bad, count(*) FROM _wb_checked GROUP BY _wb_bad").fetchall()
    reasons: dict[str, int] = {}
    for code, n in counts:
        if code is not None:
            r = checked.problems[code - 1][1]
            reasons[r] = reasons.get(r, 0) + int(n)
    accepted = sum(int(n) for code, n in counts if code is None)
    quarantined = sum(reasons.values())
    raw.execute("DELETE FROM ingest_log WHERE table_name = ? AND (sha256 = ? OR file = ?)", [spec.name, digest, where])
    raw.execute(
        "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        [spec.name, where, digest, accepted + quarantined, accepted, quarantined, stamp],
    )
    _step(bar, "quarantine")
    return IngestResult(spec.name, where, digest, accepted + quarantined, accepted, quarantined, reasons,
                        checked.ignored)


def _bar(show: bool, where: str) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=4, desc=Path(where).name, unit="step", leave=False)


def _step(bar: Any, label: str) -> None:
    if bar is not None:
        bar.set_postfix_str(label)
        bar.update(1)


def _close(bar: Any) -> None:
    if bar is not None:
        bar.close()
