"""One ingest is one load: read → validate → write the store in one transaction, quarantine and log."""

from __future__ import annotations

import hashlib
import json
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
    CsvNeedsCare,
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


@dataclass(frozen=True)
class _Options:
    """How a load writes: mode ('upsert' or 'replace'), the date attribute changes take effect, the mapping."""

    mode: str = "upsert"
    effective: date | None = None
    mapping_digest: str = ""
    currency: str | None = None

    def key(self) -> str:
        """What must match (beside table and content) for a re-ingest to be the same load."""
        return json.dumps({"mode": self.mode, "mapping": self.mapping_digest}, sort_keys=True)


def _options(maps: Mapping, *, replace: bool, effective: date | None, run_date: date | None) -> _Options:
    digest = hashlib.sha256(repr(maps).encode()).hexdigest()[:16]
    when = effective if effective is not None else (run_date if run_date is not None else date.today())
    return _Options("replace" if replace else "upsert", when, digest, maps.currency)


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
    load_id: int | None = None  # the load this ingest made (or, when skipped, the earlier identical one)
    rows_inserted: int = 0
    rows_updated: int = 0
    skipped: bool = False  # identical content was the table's latest load: nothing was written
    mode: str = "upsert"

    def summary(self) -> str:
        """Human summary: one line of counts, then one line per quarantine reason."""
        if self.skipped:
            return (f"{self.file} → {self.table}: identical content is already the latest load of {self.table} "
                    f"(load {self.load_id}); nothing changed.")
        load = "" if self.load_id is None else (
            f" (load {self.load_id}: {self.rows_inserted:,} rows new, {self.rows_updated:,} changed"
            f"{', replace mode' if self.mode == 'replace' else ''})")
        lines = [
            f"{self.file} → {self.table}: {self.rows_read:,} rows read, {self.rows_accepted:,} accepted, "
            f"{self.rows_quarantined:,} quarantined{load}."
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
    replace: bool = False,
    effective: date | None = None,
) -> IngestResult:
    """Validate and load one CSV (utf-8, utf-8-sig, gb18030; .gz ok), XLSX or Parquet export into `table`.

    con: the store (an Ibis DuckDB backend from store.connect, or a raw duckdb connection).
    mapping: header mapping (path, dict or Mapping); None uses config/mapping.yaml.
    run_date: dates after it are "in the future"; None means the date of this run.
    replace: each row of the file is the whole record (columns it lacks become NULL); default: upsert only
    the file's columns. effective: the date partner attribute changes take effect (default run_date).
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
    opts = _options(maps, replace=replace, effective=effective, run_date=run_date)
    raw = _raw(con)
    kind = _file_kind([s.lower() for s in path.suffixes], where)
    hasher = _Sha256Thread(path, count_records=kind == "csv")
    hasher.start()
    bar = _bar(progress and path.stat().st_size >= LARGE_FILE_BYTES, where)
    tmp_files: list[Path] = []
    try:
        with _fast_settings(raw):
            result = _ingest_file_txn(raw, path, spec, maps, where, kind, hasher, run_date, bar, tmp_files, opts)
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
    opts: _Options,
) -> IngestResult:
    """Validate one file into temporary tables, then write the store in one transaction.

    A CSV is read by DuckDB's strict reader first; if it refuses the file, or the rows it returns differ from
    the independent record count, the file is read again carefully (mis-sized lines quarantined); a count
    that still differs is a file-level error.
    """
    gb18030 = careful = False
    for _attempt in range(4):
        checked: _Checked | None = None
        try:
            source = ""
            if kind == "csv":
                source = _load_csv(raw, path, where, tmp_files, force_gb18030=gb18030, careful=careful)
            elif kind == "xlsx":
                _load_xlsx(raw, path, spec, maps, where)
            else:
                source = _load_parquet(raw, path, where)
            _step(bar, "read")
            try:
                checked = _check(raw, spec, maps, where, run_date, source)
            except duckdb.InvalidInputException as exc:  # the file is parsed here, while validating
                if kind == "csv" and not gb18030 and "unicode" in str(exc).lower():
                    raise _NotUtf8 from exc
                if kind == "csv" and not careful:
                    raise CsvNeedsCare from exc
                raise IngestError(f"{where} could not be read ({_first_line(exc)}).") from exc
            _step(bar, "validate")
            hasher.join()
            if hasher.error is not None:
                raise IngestError(f"{where} could not be read ({hasher.error}).")
            if hasher.records is not None:
                _check_record_count(raw, hasher.records, where, careful)
            simple = kind == "csv" and hasher.simple and not careful and not gb18030
            checked.start_fetch(raw, path if simple else None)
        except _NotUtf8:
            _drop_temp(raw)
            gb18030 = True
            continue
        except CsvNeedsCare:
            if checked is not None and checked.fetch is not None:
                checked.fetch.join()
            _drop_temp(raw)
            careful = True
            continue
        except BaseException:
            if checked is not None and checked.fetch is not None:
                checked.fetch.join()
            _drop_temp(raw)
            raise
        return _store_checked(raw, spec, checked, where, hasher.hexdigest, bar, opts)
    raise IngestError(f"{where} is neither UTF-8 nor GB18030 text.")


def _check_record_count(raw: duckdb.DuckDBPyConnection, records: int, where: str, careful: bool) -> None:
    """Every physical record is a row: the reader's rows must equal the independent count (header aside)."""
    rows = raw.execute("SELECT count(*) FROM _wb_checked").fetchone()[0]
    expected = max(records - 1, 0)
    if rows == expected:
        return
    if not careful:
        raise CsvNeedsCare
    raise IngestError(f"{where}: an independent count finds {expected:,} records but the reader returned {rows:,} "
                      "rows, so nothing was loaded (look for an unbalanced double quote).")


def _store_checked(raw: duckdb.DuckDBPyConnection, spec: Table, checked: _Checked, where: str, digest: str,
                   bar: Any, opts: _Options) -> IngestResult:
    """Write the checked rows to the store in one transaction (rolled back on any error), then drop temp tables."""
    try:
        raw.execute("BEGIN TRANSACTION")
        try:
            result = _write(raw, spec, checked, where, digest, bar, opts)
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
    replace: bool = False,
    effective: date | None = None,
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
    opts = _options(maps, replace=replace, effective=effective, run_date=run_date)
    with _fast_settings(raw):
        return _ingest_frame_txn(raw, spec, frame, maps, source, digest, run_date, opts)


def _ingest_frame_txn(
    raw: duckdb.DuckDBPyConnection,
    spec: Table,
    frame: pd.DataFrame,
    maps: Mapping,
    source: str,
    digest: str,
    run_date: date | None,
    opts: _Options,
) -> IngestResult:
    raw.register("_wb_frame", frame)
    try:
        try:
            raw.execute("CREATE OR REPLACE TEMP VIEW _wb_raw AS SELECT * FROM _wb_frame")
            checked = _check(raw, spec, maps, source, run_date)
        except BaseException:
            _drop_temp(raw)
            raise
        return _store_checked(raw, spec, checked, source, digest, None, opts)
    finally:
        raw.unregister("_wb_frame")


def _write(raw: duckdb.DuckDBPyConnection, spec: Table, checked: _Checked, where: str, digest: str,
           bar: Any, opts: _Options) -> IngestResult:
    """Inside the store's transaction: upsert good rows, quarantine bad ones, record the load.

    Identical content (same table, SHA-256, mode and mapping) that is already the table's latest load,
    with no later load of a parent table, is a no-op: nothing is written and the result says so.
    """
    same = _same_as_latest(raw, spec, digest, opts)
    if same is not None:
        _step(bar, "upsert")
        if checked.fetch is not None:
            checked.fetch.join()
        read, accepted, quarantined, lid = same
        return IngestResult(spec.name, where, digest, read, accepted, quarantined, {}, checked.ignored,
                            load_id=lid, skipped=True, mode=opts.mode)
    if opts.currency:
        from workbench.vocab import set_store_currency

        set_store_currency(raw, opts.currency)
    stamp = datetime.now().replace(microsecond=0)
    load_id = raw.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()[0]
    written = _upsert(raw, spec, load_id=load_id, replace=opts.mode == "replace", effective=opts.effective)
    _step(bar, "upsert")
    if checked.fetch is not None:  # the raw rows read beside the upsert: classify the repeats, add the text
        _classify_repeats(raw, spec, checked, checked.fetch.result(raw))
    raw.execute(
        "INSERT INTO quarantine (table_name, file, row_number, \"column\", value, reason, quarantined_at, row_data, "
        "load_id) SELECT ?, ?, _wb_row, _wb_column, _wb_value, _wb_reason, ?, _wb_row_data, ? FROM ("
        f"SELECT {checked.decoded()} FROM _wb_checked WHERE _wb_bad IS NOT NULL) "
        "AS _wb_q(_wb_row, _wb_column, _wb_value, _wb_reason, _wb_row_data) ORDER BY _wb_row",
        [spec.name, where, stamp, load_id],
    )
    counts = raw.execute("SELECT _wb_bad, count(*) FROM _wb_checked GROUP BY _wb_bad").fetchall()
    reasons: dict[str, int] = {}
    for code, n in counts:
        if code is not None:
            r = checked.problems[code - 1][1]
            reasons[r] = reasons.get(r, 0) + int(n)
    accepted = sum(int(n) for code, n in counts if code is None)
    quarantined = sum(reasons.values())
    raw.execute(
        "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false, NULL, ?)",
        [load_id, spec.name, where, digest, opts.mode, accepted + quarantined, accepted, quarantined,
         written.inserted, written.updated, stamp, opts.key()],
    )
    _step(bar, "quarantine")
    return IngestResult(spec.name, where, digest, accepted + quarantined, accepted, quarantined, reasons,
                        checked.ignored, load_id=load_id, rows_inserted=written.inserted,
                        rows_updated=written.updated, mode=opts.mode)


def _same_as_latest(raw: duckdb.DuckDBPyConnection, spec: Table, digest: str,
                    opts: _Options) -> tuple[int, int, int, int] | None:
    """(rows read, accepted, quarantined, load id) of the table's latest load if it holds this very content
    with the same options, is not rolled back, and no parent table was loaded or rolled back since; else None."""
    row = raw.execute(
        "SELECT load_id, content_sha256, options, rolled_back, rows_read, rows_accepted, rows_quarantined "
        "FROM loads WHERE table_name = ? ORDER BY load_id DESC LIMIT 1", [spec.name]).fetchone()
    if row is None or row[1] != digest or row[2] != opts.key() or row[3]:
        return None
    parents = sorted({p for _, p in spec.foreign_keys})
    if parents:
        later = raw.execute(
            f"SELECT count(*) FROM loads WHERE table_name IN ({', '.join('?' for _ in parents)}) "
            "AND (load_id > ? OR rolled_back_at >= (SELECT loaded_at FROM loads WHERE load_id = ?))",
            [*parents, row[0], row[0]]).fetchone()[0]
        if later:
            return None
    return int(row[4]), int(row[5]), int(row[6]), int(row[0])


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


# --------------------------------------------------------------------------------------------------
# load history and rollback

LOAD_COLUMNS = ["load_id", "table", "file", "content_sha256", "mode", "rows_read", "rows_accepted",
                "rows_quarantined", "rows_inserted", "rows_updated", "loaded_at", "rolled_back"]


def list_loads(con: Any) -> pd.DataFrame:
    """Every load of the store, oldest first: LOAD_COLUMNS (rows_inserted/updated NULL for pre-history loads)."""
    raw = _raw(con)
    if not raw.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'loads' "
                       "AND table_schema = 'main'").fetchone()[0]:  # a store opened read-only before its first load
        return pd.DataFrame(columns=LOAD_COLUMNS)
    return raw.execute(
        "SELECT load_id, table_name AS \"table\", file, content_sha256, mode, rows_read, rows_accepted, "
        "rows_quarantined, rows_inserted, rows_updated, loaded_at, rolled_back FROM loads ORDER BY load_id"
    ).df()


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did: rows the load had inserted (removed) and changed (restored)."""

    load_id: int
    table: str
    file: str
    rows_removed: int
    rows_restored: int

    def summary(self) -> str:
        """One line for the command line."""
        return (f"Rolled back load {self.load_id} ({self.file} → {self.table}): {self.rows_removed:,} inserted rows "
                f"removed, {self.rows_restored:,} changed rows restored.")


def rollback_load(con: Any, load_id: int) -> RollbackResult:
    """Restore every row load `load_id` inserted or changed to its state before the load, in one transaction.

    Refuses (WorkbenchError naming the later load) when a later load changed rows this one wrote, or when
    rows of another table refer to partners this load added.
    """
    from workbench.store import TABLES, before_table

    raw = _raw(con)
    row = raw.execute("SELECT table_name, file, rolled_back FROM loads WHERE load_id = ?", [int(load_id)]).fetchone()
    if row is None:
        raise IngestError(f"There is no load {load_id} in the store; `workbench loads` lists them.")
    table, file, done = row
    if done:
        raise IngestError(f"Load {load_id} ({file}) is already rolled back.")
    lid = int(load_id)
    spec = TABLES[table]
    before = before_table(table)
    later = raw.execute(f"""
        SELECT b._by_load, l.file FROM {before} AS b JOIN loads AS l ON l.load_id = b._by_load
        WHERE b."_load_id" = ? AND NOT l.rolled_back ORDER BY b._by_load DESC LIMIT 1""", [lid]).fetchone()
    if later is not None:
        raise IngestError(f"Load {lid} cannot be rolled back: the later load {later[0]} ({later[1]}) changed rows it "
                          f"wrote; roll back load {later[0]} first.")
    key = spec.primary_key
    on = " AND ".join(f't."{k}" = b."{k}"' for k in key)
    inserted = (f"SELECT * FROM {table} AS t WHERE t.\"_load_id\" = {lid} AND NOT EXISTS "
                f"(SELECT 1 FROM {before} AS b WHERE b._by_load = {lid} AND {on})")
    for child in TABLES.values():
        for col, parent in child.foreign_keys:
            if parent != table:
                continue
            pk = spec.primary_key[0]
            hit = raw.execute(f"""
                SELECT c."_load_id", l.file FROM {child.name} AS c JOIN ({inserted}) AS p ON c."{col}" = p."{pk}"
                LEFT JOIN loads AS l ON l.load_id = c."_load_id" ORDER BY c."_load_id" DESC NULLS FIRST LIMIT 1""").fetchone()
            if hit is not None:
                by = f"load {hit[0]} ({hit[1]})" if hit[0] is not None else "a load from before load history"
                raise IngestError(f"Load {lid} cannot be rolled back: {child.name} rows loaded by {by} refer to "
                                  f"partners it added; roll back {'load ' + str(hit[0]) if hit[0] is not None else 'those rows'} first.")
    cols = ", ".join(f'"{c}"' for c in (*spec.column_names, "_load_id"))
    raw.execute("BEGIN TRANSACTION")
    try:
        removed = raw.execute(f"SELECT count(*) FROM ({inserted})").fetchone()[0]
        restored = raw.execute(f"SELECT count(*) FROM {before} WHERE _by_load = ?", [lid]).fetchone()[0]
        raw.execute(f'DELETE FROM {table} WHERE "_load_id" = ?', [lid])
        raw.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {before} WHERE _by_load = ?", [lid])
        if table == "partners":
            raw.execute("DELETE FROM partner_history WHERE load_id = ?", [lid])
            raw.execute("UPDATE partner_history SET valid_to = NULL, closed_by = NULL WHERE closed_by = ?", [lid])
        raw.execute("UPDATE loads SET rolled_back = true, rolled_back_at = ? WHERE load_id = ?",
                    [datetime.now().replace(microsecond=0), lid])
        raw.execute("COMMIT")
    except BaseException:
        _rollback(raw)
        raise
    return RollbackResult(lid, table, file, int(removed), int(restored))


DEMO_SOURCE_PREFIX = "synth:"  # what build_demo_store names its loads


def check_demo_may_replace(db: str | Path, *, force: bool = False) -> None:
    """Raise WorkbenchError (one sentence) unless `db` is absent, empty of loads, or holds only the demo's
    loads; `force` skips the check. For `workbench demo`, `make demo` and `make clean`."""
    from workbench.errors import WorkbenchError

    path = Path(db)
    if force or not path.exists():
        return
    try:
        raw = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException:
        raise
    except duckdb.Error as exc:
        raise WorkbenchError(f"{path} is not a workbench store ({_first_line(exc)}); choose another --db or pass "
                             "--force to replace it.") from exc
    try:
        names = {r[0] for r in raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
        files: list[str] = []
        for table, col in (("loads", "file"), ("ingest_log", "file")):
            if table in names:
                files += [r[0] for r in raw.execute(f"SELECT {col} FROM {table}").fetchall()]
    finally:
        raw.close()
    foreign = [f for f in files if not str(f).startswith(DEMO_SOURCE_PREFIX)]
    if foreign:
        raise WorkbenchError(f"The store {path} holds {len(set(foreign)):,} loaded file(s) that are not the demo's "
                             f"(e.g. {foreign[-1]}); choose another --db, or pass --force to replace it anyway.")
