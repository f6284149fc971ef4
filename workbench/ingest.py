"""Read an export → map its headers → validate every row in DuckDB → upsert good rows | quarantine bad ones.

Guarantees (DESIGN.md, "Ingestion guarantees"):

* every data row of a file is either accepted (upserted by primary key) or written once to ``quarantine``
  with the file, its row number, the column, the value and a reason a person understands;
  ``rows_accepted + rows_quarantined == rows_read`` always;
* a file-level problem (unreadable file, unknown table, a required column missing, two headers mapping to
  the same column) raises :class:`~workbench.errors.IngestError` naming the file and the column, and
  writes nothing;
* one file is one transaction: a failure halfway leaves the store as it was;
* ingesting the same file again changes nothing: good rows are upserted to the same values, the file's
  previous quarantine rows are replaced by identical ones and its ``ingest_log`` row keeps its time.

Row numbers count data rows as a person does: the first row under the header is row 1. In a CSV whose
header is line 1 and which has no blank lines or line breaks inside quotes, row N is line N + 1; in a
spreadsheet, row N sits N rows below the header row.

Validation is set-based SQL over the file read as text (``TRY_CAST`` with cheap fast paths for tidy values,
a problem code computed only for rows a conjunction cannot show to be good, small hash bitmaps confirmed
by a join over the distinct values for foreign keys, a sort of the key hashes for repeated keys), never a
Python loop over rows. It runs in parallel into a temporary table kept in file order, so a row's number is
its position there; the store itself is written in one transaction afterwards. Primary and foreign keys
are enforced here (store tables carry no DuckDB key constraints). When keys repeat, the raw text of those
rows is read again on a second connection while the store's insert runs. Blank lines in a CSV are skipped by the
reader and are not data rows; blank spreadsheet rows are skipped too.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from workbench.config import from_dict, load_yaml
from workbench.errors import ConfigError, IngestError
from workbench.paths import config_file
from workbench.store import TABLES, Column, Table, raw_connection

__all__ = [
    "IngestResult",
    "Mapping",
    "default_mapping",
    "ingest_file",
    "ingest_frame",
    "load_mapping",
    "reason_text",
]

DEFAULT_MAPPING_FILE = config_file("mapping.yaml")
LARGE_FILE_BYTES = 20 * 1024 * 1024  # show a progress bar above this size when progress=True

# Characters trimmed from both ends of every value: ASCII whitespace, no-break and ideographic space.
_TRIM = " \t\r\n\u00a0\u3000\ufeff"
# Full-width ASCII (U+FF01..U+FF5E) → ASCII, used on ids, numbers, dates, codes (not on free text).
_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
_HALF = "".join(chr(c) for c in range(0x21, 0x7F))
_TRUE = ("true", "t", "yes", "y", "1", "是", "对", "return", "退货", "退", "x")
_FALSE = ("false", "f", "no", "n", "0", "否", "不是", "")
# Date columns that may legitimately lie after the run date (planned ends, period bounds).
_FUTURE_OK = {"exit_date", "period_start", "period_end"}
# Free-text columns: only trimmed, never translated from full-width (names keep their punctuation).
_FREE_TEXT = {"name", "province", "city", "region", "contact_name", "comment", "note", "course", "program",
              "product_line"}


# --------------------------------------------------------------------------------------------------
# mapping


@dataclass(frozen=True)
class Mapping:
    """Header mapping (config/mapping.yaml): file header → contract column, per table or for all tables.

    columns: header → column for every table; tables: per-table overrides (take precedence);
    values: contract column → {value in the file: contract value} (e.g. 经销商 → distributor);
    date_formats: extra strptime formats tried after ISO dates (e.g. "%d/%m/%Y").
    """

    columns: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_formats: list[str] = field(default_factory=list)


def normalize_header(text: Any) -> str:
    """A header as compared for mapping: NFKC (full-width → ASCII), trimmed, lower case, runs of space/-/. → _."""
    s = unicodedata.normalize("NFKC", str(text)).strip(_TRIM).lower()
    return re.sub(r"[\s\-./]+", "_", s)


def load_mapping(mapping: Mapping | dict | str | Path | None = None) -> Mapping:
    """A Mapping from a Mapping, a parsed dict, a YAML path, or None (the default config/mapping.yaml)."""
    if isinstance(mapping, Mapping):
        return mapping
    if mapping is None:
        return default_mapping()
    if isinstance(mapping, dict):
        result = from_dict(Mapping, mapping, where="mapping")
        where = "mapping"
    else:
        data = load_yaml(mapping)
        result = from_dict(Mapping, data if data is not None else {}, where=str(mapping))
        where = str(mapping)
    for table, cols in [("every table", result.columns), *result.tables.items()]:
        if table != "every table" and table not in TABLES:
            raise ConfigError(f"{where}: tables has unknown table '{table}' (known: {', '.join(TABLES)}).")
        known = {c for t in TABLES.values() for c in t.column_names}
        for header, col in cols.items():
            if col not in known:
                raise ConfigError(f"{where}: header '{header}' maps to '{col}', which is not a contract column.")
    return result


def default_mapping() -> Mapping:
    """The shipped config/mapping.yaml (common Chinese ERP headers), or an empty mapping if it is absent."""
    if DEFAULT_MAPPING_FILE.exists():
        return load_mapping(DEFAULT_MAPPING_FILE)
    return Mapping()


def _resolve_headers(headers: list[str], table: Table, mapping: Mapping, where: str) -> dict[str, str]:
    """Contract column → file header, for the headers this table knows; errors on two headers for one column."""
    lookup: dict[str, str] = {normalize_header(c): c for c in table.column_names}
    for header, col in mapping.columns.items():
        if col in table.column_names:
            lookup[normalize_header(header)] = col
    for header, col in mapping.tables.get(table.name, {}).items():
        lookup[normalize_header(header)] = col
    found: dict[str, str] = {}
    for h in headers:
        col = lookup.get(normalize_header(h))
        if col is None:
            continue
        if col in found:
            raise IngestError(
                f"{where}: headers '{found[col]}' and '{h}' both map to column '{col}'; keep one or fix the mapping."
            )
        found[col] = h
    return found


# --------------------------------------------------------------------------------------------------
# result


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


# --------------------------------------------------------------------------------------------------
# reasons


def reason_text(kind: str, column: str = "", table: str = "") -> str:
    """The quarantine reason for a check `kind` on `column` (tests and the dirty exports use the same text)."""
    col = TABLES[table].column(column) if table and column and column in TABLES[table].column_names else None
    if kind == "missing":
        return f"{column} is empty but required"
    if kind == "not_date":
        return f"{column} is not a date"
    if kind == "not_number":
        return f"{column} is not a number"
    if kind == "not_whole":
        return f"{column} is not a whole number"
    if kind == "not_bool":
        return f"{column} is not yes/no"
    if kind == "not_enum":
        allowed = ", ".join(col.enum) if col is not None and col.enum else "the allowed values"
        return f"{column} is not one of: {allowed}"
    if kind == "range":
        lo = col.min_value if col is not None else None
        hi = col.max_value if col is not None else None
        if lo is not None and hi is not None:
            return f"{column} is outside {_num(lo)}–{_num(hi)}"
        if lo is not None:
            return f"{column} is below {_num(lo)}"
        return f"{column} is above {_num(hi)}"
    if kind == "future":
        return f"{column} lies in the future"
    if kind == "negative":
        return f"{column} is negative but the line is not marked as a return"
    if kind == "fk":
        return f"{column} is not a known partner"
    if kind == "duplicate":
        return "duplicate line: identical to an earlier line in the file"
    if kind == "pk_conflict":
        return f"{column} appears earlier in the file with different values (the first one was kept)"
    raise ValueError(f"unknown reason kind {kind!r}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# --------------------------------------------------------------------------------------------------
# public entry points


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


# --------------------------------------------------------------------------------------------------
# reading


def _table_spec(table: str, where: str) -> Table:
    if table not in TABLES:
        raise IngestError(f"{where}: unknown table '{table}' (known: {', '.join(TABLES)}).")
    return TABLES[table]


def _raw(con: Any) -> duckdb.DuckDBPyConnection:
    return con if isinstance(con, duckdb.DuckDBPyConnection) else raw_connection(con)


def _file_kind(suffixes: list[str], where: str) -> str:
    s = [x for x in suffixes if x not in (".gz", ".gzip")]
    last = s[-1] if s else ""
    if last in (".csv", ".txt", ".tsv"):
        return "csv"
    if last in (".xlsx", ".xlsm"):
        if suffixes[-1] != last:
            raise IngestError(f"{where}: compressed Excel files are not supported; unzip it first.")
        return "xlsx"
    if last == ".parquet":
        return "parquet"
    raise IngestError(f"{where}: unknown file type '{last or '(none)'}'; use .csv, .xlsx or .parquet.")


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() in (".gz", ".gzip") else path.open("rb")


def detect_encoding(path: Path) -> str:
    """'utf-8-sig', 'utf-8' or 'gb18030', from the first megabyte of the (possibly gzipped) file."""
    try:
        with _open_bytes(path) as fh:
            head = fh.read(1 << 20)
    except OSError as exc:
        raise IngestError(f"{path} could not be read ({exc}).") from exc
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path} is neither UTF-8 nor GB18030 text (byte {exc.start}).") from exc


def _transcode(path: Path, tmp_files: list[Path]) -> Path:
    """Copy a GB18030 file to a temporary UTF-8 file DuckDB can read."""
    fd, name = tempfile.mkstemp(suffix=".csv", prefix="wb_ingest_")
    out = Path(name)
    tmp_files.append(out)
    dec = codecs.getincrementaldecoder("gb18030")()
    try:
        with _open_bytes(path) as src, open(fd, "wb") as dst:
            while chunk := src.read(16 << 20):
                dst.write(dec.decode(chunk).encode("utf-8"))
            dst.write(dec.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path} is neither UTF-8 nor GB18030 text (byte {exc.start}).") from exc
    return out


def _read_csv_sql(source: Path) -> str:
    """SQL reading the CSV `source` as text, the same from any connection."""
    return (
        f"SELECT * FROM read_csv({_lit(str(source))}, header=true, "
        "all_varchar=true, auto_detect=true, quote='\"', escape='\"', null_padding=true, strict_mode=false, "
        "sample_size=20480)"
    )


def _load_csv(raw: duckdb.DuckDBPyConnection, path: Path, where: str, tmp_files: list[Path],
              *, force_gb18030: bool = False) -> str:
    """Define the view `_wb_raw` over the CSV (transcoding GB18030 first); return the SQL reading it."""
    enc = "gb18030" if force_gb18030 else detect_encoding(path)
    source = _transcode(path, tmp_files) if enc == "gb18030" else path
    try:
        raw.execute(f"CREATE OR REPLACE TEMP VIEW _wb_raw AS {_read_csv_sql(source)}")
    except duckdb.Error as exc:
        if enc != "gb18030" and "unicode" in str(exc).lower():
            raise _NotUtf8 from exc
        raise IngestError(f"{where} could not be read as CSV ({_first_line(exc)}).") from exc
    return _read_csv_sql(source)


class _NotUtf8(Exception):
    """A file that looked like UTF-8 has invalid bytes further on: retry it as GB18030."""


def _load_parquet(raw: duckdb.DuckDBPyConnection, path: Path, where: str) -> str:
    """Define the view `_wb_raw` over the Parquet file; return the SQL reading it."""
    source = f"SELECT * FROM read_parquet({_lit(str(path))})"
    try:
        raw.execute(f"CREATE OR REPLACE TEMP VIEW _wb_raw AS {source}")
    except duckdb.Error as exc:
        raise IngestError(f"{where} could not be read as Parquet ({_first_line(exc)}).") from exc
    return source


def _cell_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def detect_header_row(rows: list[list[Any]], table: Table, mapping: Mapping) -> int:
    """Index of the header row among the first rows of a sheet: the one naming most contract columns."""
    best, best_score = 0, -1
    for i, row in enumerate(rows):
        headers = [str(v) for v in row if v is not None and str(v).strip()]
        if not headers:
            continue
        try:
            score = len(_resolve_headers(headers, table, mapping, "sheet"))
        except IngestError:
            score = len(headers)
        if score > best_score:
            best, best_score = i, score
    return best


def _load_xlsx(raw: duckdb.DuckDBPyConnection, path: Path, table: Table, mapping: Mapping, where: str) -> None:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise IngestError(f"{where} could not be read as an Excel workbook ({_first_line(exc)}).") from exc
    try:
        ws = wb.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    if not rows:
        raise IngestError(f"{where}: the first sheet is empty.")
    h = detect_header_row(rows[:20], table, mapping)
    header = rows[h]
    width = max(len(r) for r in rows)
    names: list[str] = []
    for j in range(width):
        v = header[j] if j < len(header) else None
        name = str(v).strip() if v is not None and str(v).strip() else f"column_{j + 1}"
        while name in names:
            name += "_"
        names.append(name)
    data: dict[str, list] = {n: [] for n in names}
    row_numbers: list[int] = []
    for k, r in enumerate(rows[h + 1 :], start=1):
        cells = [_cell_text(v) for v in r] + [None] * (width - len(r))
        if all(c is None or not c.strip() for c in cells):
            continue  # blank spreadsheet row: not a data row
        row_numbers.append(k)
        for n, c in zip(names, cells, strict=True):
            data[n].append(c)
    frame = pd.DataFrame({n: pd.array(v, dtype="object") for n, v in data.items()}).astype("string")
    frame["_wb_rownum"] = pd.array(row_numbers, dtype="int64")
    raw.register("_wb_frame", frame)
    try:
        raw.execute("CREATE OR REPLACE TEMP TABLE _wb_sheet AS SELECT * FROM _wb_frame")
    finally:
        raw.unregister("_wb_frame")
    raw.execute("CREATE OR REPLACE TEMP VIEW _wb_raw AS SELECT * FROM _wb_sheet")


class _Sha256Thread(threading.Thread):
    """sha256 of a file computed beside the DuckDB read (hashlib releases the GIL on large buffers)."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path = path
        self.hexdigest = ""
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            h = hashlib.sha256()
            with self.path.open("rb") as fh:
                while chunk := fh.read(8 << 20):
                    h.update(chunk)
            self.hexdigest = h.hexdigest()
        except OSError as exc:
            self.error = exc


def _frame_sha256(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr([str(c) for c in frame.columns]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# validation (SQL)


def _lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _tq(name: str) -> str:
    """The typed value of contract column `name` inside the validation query (raw columns keep their names)."""
    return _q(f"_wb_c_{name}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(_lit(v) for v in values) + ")"


@dataclass
class _ColSQL:
    col: Column
    clean: str  # the cleaned text of the value (NULL if empty); evaluated only where needed
    typed: str  # the typed value (NULL if empty or invalid); cheap on well-formed values
    present: bool
    src: str = "NULL"  # the raw column as read


def _clean_text(s: str, free_text: bool) -> str:
    """SQL: trim whitespace (ASCII, no-break, ideographic); full-width ASCII → ASCII unless free text."""
    x = s if free_text else f"(CASE WHEN strlen({s}) = length({s}) THEN {s} ELSE translate({s}, {_lit(_FULL)}, {_lit(_HALF)}) END)"
    return f"NULLIF(trim({x}, {_lit(_TRIM)}), '')"


def _is_tidy(s: str) -> str:
    """SQL: `s` is ASCII without leading/trailing space (the common case, needing no cleaning)."""
    return f"(strlen({s}) = length({s}) AND NOT starts_with({s}, ' ') AND NOT ends_with({s}, ' '))"


def _col_sql(col: Column, src: str | None, src_type: str, maps: Mapping) -> _ColSQL:
    """SQL expressions for one contract column read from raw column `src` of DuckDB type `src_type`."""
    if src is None:
        return _ColSQL(col, "NULL", f"CAST(NULL AS {col.sql_type})", False)
    s = _q(src)
    text = src_type.upper() == "VARCHAR"
    clean = _clean_text(s, col.name in _FREE_TEXT) if text else f"CAST({s} AS VARCHAR)"
    value_map = maps.values.get(col.name, {})
    t = col.sql_type.upper()
    if t == "VARCHAR":
        if col.enum:
            low = f"lower({clean})"
            if value_map:
                cases = " ".join(f"WHEN {_lit(k.strip().lower())} THEN {_lit(v)}" for k, v in value_map.items())
                low = f"(CASE {low} {cases} ELSE {low} END)"
            slow = f"(CASE WHEN {low} IN {_in_list(col.enum)} THEN {low} END)"
            typed = f"(CASE WHEN {s} IN {_in_list(col.enum)} THEN {s} ELSE {slow} END)" if text else slow
        else:
            slow = clean
            if value_map:
                cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in value_map.items())
                slow = f"(CASE {clean} {cases} ELSE {clean} END)"
            if not text:
                typed = slow
            else:  # tidy values that need no mapping skip the cleaning
                tidy = _is_tidy(s) + (f" AND {s} NOT IN {_in_list(value_map)}" if value_map else "")
                typed = f"(CASE WHEN {tidy} THEN {s} ELSE {slow} END)"
    elif t == "DATE":
        if text:
            fmts = ["%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d", *maps.date_formats]
            typed = (
                f"COALESCE(TRY_CAST({s} AS DATE), TRY_CAST({clean} AS DATE), "
                f"CAST(TRY_STRPTIME({clean}, [{', '.join(_lit(f) for f in fmts)}]) AS DATE))"
            )
        else:
            typed = f"TRY_CAST({s} AS DATE)"
    elif t == "BOOLEAN":
        extra_t = [k.strip().lower() for k, v in value_map.items() if str(v).lower() in ("true", "1", "yes")]
        extra_f = [k.strip().lower() for k, v in value_map.items() if str(v).lower() in ("false", "0", "no")]
        low = f"lower({clean})"
        slow = (
            f"(CASE WHEN {low} IN {_in_list((*_TRUE, *extra_t))} THEN true "
            f"WHEN {low} IN {_in_list((*_FALSE, *extra_f))} THEN false END)"
        )
        if text:
            typed = f"(CASE {s} WHEN 'false' THEN false WHEN 'true' THEN true ELSE {slow} END)"
        else:
            typed = f"COALESCE(TRY_CAST({s} AS BOOLEAN), {slow})"
    else:  # numbers
        if t == "INTEGER":
            d = f"COALESCE(TRY_CAST({s} AS DOUBLE), TRY_CAST(translate({clean}, ',¥$￥', '') AS DOUBLE))"
            typed = f"(CASE WHEN {d} = round({d}) THEN CAST({d} AS INTEGER) END)"
        elif text:
            typed = f"COALESCE(TRY_CAST({s} AS {col.sql_type}), TRY_CAST(translate({clean}, ',¥$￥', '') AS {col.sql_type}))"
        else:
            typed = f"TRY_CAST({s} AS {col.sql_type})"
    return _ColSQL(col, clean, typed, True, s)


def _checks(spec: Table, cols: dict[str, _ColSQL], run_date: date) -> list[tuple[str, str, str, str]]:
    """(condition, column, value expression, reason) in priority order, over the typed columns and raw text."""
    out: list[tuple[str, str, str, str]] = []
    for c in spec.columns:
        cs, typed = cols[c.name], _tq(c.name)
        if c.required:
            out.append((f"{typed} IS NULL AND {cs.clean} IS NULL", c.name, "NULL", reason_text("missing", c.name, spec.name)))
        t = c.sql_type.upper()
        kind = (
            "not_enum" if c.enum else "not_date" if t == "DATE" else "not_bool" if t == "BOOLEAN"
            else "not_whole" if t == "INTEGER" else None if t == "VARCHAR" else "not_number"
        )
        if kind and cs.present:
            out.append((f"{typed} IS NULL AND {cs.clean} IS NOT NULL", c.name, cs.clean,
                        reason_text(kind, c.name, spec.name)))
    for c in spec.columns:
        typed = _tq(c.name)
        conds = []
        if c.min_value is not None:
            conds.append(f"{typed} < {c.min_value}")
        if c.max_value is not None:
            conds.append(f"{typed} > {c.max_value}")
        if conds and cols[c.name].present:
            out.append((" OR ".join(conds), c.name, cols[c.name].clean, reason_text("range", c.name, spec.name)))
    for c in spec.columns:
        if c.sql_type.upper() == "DATE" and c.name not in _FUTURE_OK and cols[c.name].present:
            out.append((f"{_tq(c.name)} > DATE {_lit(run_date.isoformat())}", c.name, cols[c.name].clean,
                        reason_text("future", c.name, spec.name)))
    if spec.name == "orders":
        out.append((f"{_tq('net_amount')} < 0 AND NOT coalesce({_tq('is_return')}, false)", "net_amount", cols["net_amount"].clean,
                    reason_text("negative", "net_amount", spec.name)))
    for col, _parent in spec.foreign_keys:
        out.append((f"{_tq(col)} IS NOT NULL AND _wb_fk_{col} IS NULL", col, _tq(col), reason_text("fk", col, spec.name)))
    return out


def _surely_good(spec: Table, cols: dict[str, _ColSQL], checks: list[tuple[str, str, str, str]]) -> str:
    """SQL true only for a row that passes every check, from typed values and raw columns alone.

    Validation computes the row's problem code (a CASE over every check) only where this is not true, so
    a good row (nearly all of them) pays one conjunction instead of a dozen CASE branches. A check that
    reads the cleaned text (missing value, wrong type) passes surely when the typed value is there (or, for
    an optional column, when the raw value is NULL); any other check passes when its condition is not true.
    """
    terms = []
    for c in spec.columns:
        cs = cols[c.name]
        if c.required:
            terms.append(f"{_tq(c.name)} IS NOT NULL")
        elif cs.present and any(col == c.name and cs.clean in cond for cond, col, _, _ in checks):
            terms.append(f"({_tq(c.name)} IS NOT NULL OR {cs.src} IS NULL)")
    for cond, _col, _value, _reason in checks:
        if not any(cs.clean in cond for cs in cols.values() if cs.present):
            terms.append(f"coalesce(NOT ({cond}), true)")
    return " AND ".join(terms) if terms else "true"


@dataclass
class _Checked:
    """What validation left in the temp table `_wb_checked`, and how to find the rows of the file again.

    `_wb_checked` holds the typed contract columns of every row, `_wb_bad` (NULL for a good row, else the
    1-based index of its problem in `problems`) and `_wb_info` (bad rows only: the raw row as JSON, then
    chr(1) and the offending value unless it is NULL). Good rows carry no text beyond their values.
    """

    spec: Table
    row: str  # SQL for a row's 1-based number in the file, over `_wb_checked` (alias-free)
    problems: list[tuple[str, str]]  # (column, reason) per `_wb_bad` code
    ignored: list[str]
    row_data: str = ""  # SQL over `_wb_raw`: the whole raw row as JSON
    numbered: bool = False  # `_wb_raw` carries its own row numbers (`_wb_rownum`): spreadsheets, DataFrames
    source: str = ""  # SQL reading the file's rows from another connection ("" for frames and sheets)
    fetch: _RawFetch | None = None  # raw rows still being read for repeated keys / unknown parents

    def decoded(self) -> str:
        """SQL columns over `_wb_checked` for its bad rows: row, column, value, reason, row_data."""
        cols = "[" + ", ".join(_lit(c) for c, _ in self.problems) + "][_wb_bad]"
        reasons = "[" + ", ".join(_lit(r) for _, r in self.problems) + "][_wb_bad]"
        rd = "split_part(_wb_info, chr(1), 1)"
        value = f"CASE WHEN length(_wb_info) > length({rd}) THEN substr(_wb_info, length({rd}) + 2) END"
        return f"{self.row}, {cols}, {value}, {reasons}, {rd}"


_BITS = 1 << 21  # at most this many bits per parent-key bitmap (256 KB)
_HASHES = 3  # bitmaps per foreign key, each indexed by another 21-bit slice of the key's hash


def _bitmap_bits(n: int) -> int:
    """Bits per bitmap for `n` parent keys: about 16 per key, so the three bitmaps pass ~1e-4 of unknown keys."""
    return min(_BITS, max(1 << 16, 1 << max(0, 16 * n - 1).bit_length()))


def _bitmap(raw: duckdb.DuckDBPyConnection, name: str, values_sql: str, bits: int) -> str:
    """Store `_HASHES` bitmaps of the hashes of `values_sql`'s single column in variables `name`_i.

    Returns SQL testing a value's hash (placeholder {0}) against all of them. A bit test is an in-order,
    per-row lookup (a join would not keep row order, so validation could not number rows by position), and
    far cheaper than an ENUM cast. The bitmaps are small because a bitmap variable is copied for every
    vector of rows (a single 2 MB one cost 1 s of CPU at 10 M rows); together they form a Bloom filter. A
    value passing all of them may still be a hash collision, so callers treat "pass" as "maybe" and
    confirm with a join.
    """
    tests = []
    for i in range(_HASHES):
        pos = f"CAST(({{0}} >> {21 * i}) % {bits} AS {{1}})"
        raw.execute(f"SET VARIABLE {name}_{i} = (SELECT bitstring_agg({pos.format('hash(_wb_v)', 'BIGINT')}, 0, "
                    f"{bits - 1}) FROM ({values_sql}) AS _wb_b(_wb_v) WHERE _wb_v IS NOT NULL)")
        tests.append(f"get_bit(getvariable('{name}_{i}'), {pos.format('{0}', 'INTEGER')}) = 1")
    return "(" + " AND ".join(tests) + ")"


def _fk_exprs(raw: duckdb.DuckDBPyConnection, spec: Table) -> dict[str, str]:
    """SQL per foreign-key column: its value if the parent may have it (bitmaps), else NULL.

    The SQL reads the column's hash as `_wb_fkh_<col>` (computed once, in the query layer below). A value
    whose hashes collide with parent keys' passes here; _confirm_foreign_keys catches it.
    """
    out = {}
    for col, parent in spec.foreign_keys:
        pk = _q(TABLES[parent].primary_key[0])
        n = raw.execute(f"SELECT count(*) FROM {parent}").fetchone()[0]
        if not n:
            out[col] = "CAST(NULL AS VARCHAR)"
            continue
        test = _bitmap(raw, f"_wb_fk_{col}", f"SELECT {pk} FROM {parent}", _bitmap_bits(n))
        out[col] = f"CASE WHEN {test.format(f'_wb_fkh_{col}')} THEN {_tq(col)} END"
    return out


def _check(
    raw: duckdb.DuckDBPyConnection,
    spec: Table,
    maps: Mapping,
    where: str,
    run_date: date | None,
    source: str = "",
) -> _Checked:
    """Check `_wb_raw` against the contract into temp table `_wb_checked` (see _Checked), repeated keys included.

    Runs outside the store's transaction (it writes temporary objects only), in parallel and in file order.
    `source` is SQL reading the same rows from any connection (a file), or "" (a frame or sheet).
    """
    run_date = run_date if run_date is not None else date.today()
    described = raw.execute("DESCRIBE _wb_raw").fetchall()
    src_types = {r[0]: r[1] for r in described}
    numbered = "_wb_rownum" in src_types
    headers = [h for h in src_types if h != "_wb_rownum"]
    found = _resolve_headers(headers, spec, maps, where)
    missing = [c.name for c in spec.columns if c.required and c.name not in found]
    if missing:
        raise IngestError(
            f"{where}: required column '{missing[0]}' is missing for table {spec.name} "
            f"(headers found: {', '.join(headers[:12])}{', …' if len(headers) > 12 else ''})."
        )
    ignored = [h for h in headers if h not in found.values()]
    cols = {c.name: _col_sql(c, found.get(c.name), src_types.get(found.get(c.name, ""), "VARCHAR"), maps)
            for c in spec.columns}
    raw_cols = ", ".join(_q(h) for h in headers)
    row_data = "to_json(struct_pack(" + ", ".join(f"{_q(h)} := {_q(h)}" for h in headers) + "))"
    fk_cols = "".join(f", {expr} AS _wb_fk_{col}" for col, expr in _fk_exprs(raw, spec).items())
    fk_hashes = "".join(f", hash({_tq(col)}) AS _wb_fkh_{col}" for col, _ in spec.foreign_keys)
    typed_select = ", ".join(f"{cs.typed} AS {_tq(n)}" for n, cs in cols.items())
    # Columns the file lacks are not stored (all NULL): the upsert supplies them.
    typed_out = ", ".join(f"{_tq(n)} AS {_q(n)}" for n, cs in cols.items() if cs.present)
    checks = _checks(spec, cols, run_date)
    last = spec.primary_key[-1]
    key = ", ".join(_tq(k) for k in spec.primary_key)
    problems = [(col, r) for _, col, _, r in checks]
    problems += [(last, reason_text("duplicate")), (last, reason_text("pk_conflict", last))]
    bad = "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (c, _, _, _) in enumerate(checks, 1)) + " END"
    bad = f"CASE WHEN {_surely_good(spec, cols, checks)} THEN NULL ELSE {bad} END"
    value = "CASE _wb_bad " + " ".join(f"WHEN {i} THEN {v}" for i, (_, _, v, _) in enumerate(checks, 1)) + " END"
    rownum = "_wb_rownum AS _wb_row, " if numbered else ""
    raw.execute(f"""
        CREATE OR REPLACE TEMP TABLE _wb_checked AS
        WITH _wb_t AS (SELECT {rownum}{raw_cols}, {typed_select} FROM _wb_raw),
        _wb_h AS (SELECT _wb_t.*{fk_hashes} FROM _wb_t),
        _wb_j AS (SELECT _wb_h.*{fk_cols} FROM _wb_h),
        _wb_r AS (SELECT *, CAST({bad} AS USMALLINT) AS _wb_bad FROM _wb_j)
        SELECT {"_wb_row, " if numbered else ""}{typed_out}, _wb_bad, hash({key}) AS _wb_key,
            CASE WHEN _wb_bad IS NOT NULL THEN {row_data} || coalesce(chr(1) || {value}, '') END AS _wb_info
        FROM _wb_r
    """)
    # Without its own numbers, a row's number is its position: the table was written in file order.
    row = "_wb_row" if numbered else "(rowid + 1)"
    checked = _Checked(spec, row, problems, ignored, row_data, numbered, source)
    fk_codes = {col: 1 + next(i for i, (_, c, _, r) in enumerate(checks) if c == col and r == reason_text("fk", col))
                for col, _ in spec.foreign_keys}
    _confirm_foreign_keys(raw, spec, checked, fk_codes)
    _mark_duplicates(raw, spec, checked)
    return checked


def _confirm_foreign_keys(raw: duckdb.DuckDBPyConnection, spec: Table, checked: _Checked,
                          fk_codes: dict[str, int]) -> None:
    """Rows whose foreign key passed the bitmaps by a hash collision: mark them bad (raw text added later).

    The join runs over the distinct keys of the good rows (a small aggregate); only if one of them is
    unknown are the rows holding it looked up.
    """
    target = "_wb_checked._wb_row" if checked.numbered else "(_wb_checked.rowid + 1)"
    raw.execute("CREATE OR REPLACE TEMP TABLE _wb_fkmiss (_wb_row BIGINT, _wb_col VARCHAR, _wb_value VARCHAR)")
    for col, parent in spec.foreign_keys:
        pk = _q(TABLES[parent].primary_key[0])
        unknown = raw.execute(f"""
            SELECT count(*) FROM (SELECT DISTINCT {_q(col)} AS _wb_v FROM _wb_checked
                                  WHERE _wb_bad IS NULL AND {_q(col)} IS NOT NULL) AS c
            WHERE NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.{pk} = c._wb_v)
        """).fetchone()[0]
        if not unknown:
            continue
        raw.execute(f"""
            INSERT INTO _wb_fkmiss
            SELECT {checked.row} AS _wb_row, {_lit(col)} AS _wb_col, CAST({_q(col)} AS VARCHAR) AS _wb_value
            FROM _wb_checked AS c WHERE _wb_bad IS NULL AND {_q(col)} IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.{pk} = c.{_q(col)})
        """)
        raw.execute(f"""
            UPDATE _wb_checked SET _wb_bad = {fk_codes[col]}
            FROM _wb_fkmiss AS m WHERE {target} = m._wb_row AND m._wb_col = {_lit(col)}
        """)


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


def _mark_duplicates(raw: duckdb.DuckDBPyConnection, spec: Table, checked: _Checked) -> None:
    """Mark repeats of a primary key among otherwise good rows as bad; the first occurrence is kept.

    A repeat whose raw line is identical to the first is a "duplicate line", otherwise a key conflict.
    Candidates come from sorting the key hashes of the good rows. Only if there are any (or rows in
    `_wb_fkmiss`) is the source read again, for the raw text of those rows. The repeats are marked bad at
    once (so the upsert skips them); for a file, that read runs on a second connection beside the upsert
    (it is a streaming, one-thread scan) and _classify_repeats finishes the rows inside the transaction.
    """
    pk = ", ".join(_q(k) for k in spec.primary_key)
    raw.execute("DROP TABLE IF EXISTS _wb_cand")
    # Sorting the key hashes and comparing neighbours costs half the CPU of a hash aggregate over them.
    n_cand = raw.execute("""
        CREATE OR REPLACE TEMP TABLE _wb_candh AS
        SELECT DISTINCT _wb_key AS _wb_h FROM (
            SELECT _wb_key FROM _wb_checked WHERE _wb_bad IS NULL QUALIFY _wb_key = lag(_wb_key) OVER (ORDER BY _wb_key))
    """).fetchone()[0]
    if n_cand:  # the rows behind the repeated hashes, ranked by key (a second scan only when there are some)
        raw.execute(f"""
            CREATE OR REPLACE TEMP TABLE _wb_cand AS
            SELECT *, row_number() OVER (PARTITION BY {pk} ORDER BY _wb_row) AS _wb_rank FROM (
                SELECT {checked.row} AS _wb_row, {pk} FROM _wb_checked
                WHERE _wb_bad IS NULL AND _wb_key IN (SELECT _wb_h FROM _wb_candh))
        """)
    has_fk = bool(spec.foreign_keys)
    n_miss = raw.execute("SELECT count(*) FROM _wb_fkmiss").fetchone()[0] if has_fk else 0
    if not n_cand and not n_miss:
        return
    if not n_cand:
        raw.execute(f"CREATE TEMP TABLE _wb_cand AS SELECT {checked.row} AS _wb_row, {pk}, 0 AS _wb_rank "
                    "FROM _wb_checked LIMIT 0")
    target = "_wb_checked._wb_row" if checked.numbered else "(_wb_checked.rowid + 1)"
    conflict = len(checked.problems)
    raw.execute(f"""
        UPDATE _wb_checked SET _wb_bad = {conflict}
        FROM (SELECT _wb_row FROM _wb_cand WHERE _wb_rank > 1) AS d WHERE {target} = d._wb_row
    """)
    wanted = "SELECT _wb_row FROM _wb_cand" + (" UNION ALL SELECT _wb_row FROM _wb_fkmiss" if has_fk else "")
    if checked.source and not checked.numbered:
        rows = [r for (r,) in raw.execute(wanted).fetchall()]
        checked.fetch = _RawFetch(raw, checked.source, checked.row_data, rows)
        return
    # Numbering rows with row_number() OVER () streams on one thread: cheaper in CPU than a parallel read
    # that must look at every row's key, and as fast on two cores.
    numbered = "_wb_raw" if checked.numbered else "(SELECT row_number() OVER () AS _wb_rownum, * FROM _wb_raw)"
    raw.execute(f"""
        CREATE OR REPLACE TEMP TABLE _wb_reread AS
        SELECT _wb_rownum AS _wb_row, {checked.row_data} AS _wb_row_data FROM {numbered}
        WHERE _wb_rownum IN ({wanted})
    """)
    _classify_repeats(raw, spec, checked, "_wb_reread")


class _RawFetch(threading.Thread):
    """The raw text (JSON) of some rows of a file, read by row number on a second connection."""

    def __init__(self, raw: duckdb.DuckDBPyConnection, source: str, row_data: str, rows: list[int]):
        super().__init__(daemon=True)
        self.cursor = raw.cursor()
        self.sql = (f"SELECT _wb_rownum AS _wb_row, {row_data} AS _wb_row_data "
                    f"FROM (SELECT row_number() OVER () AS _wb_rownum, * FROM ({source})) "
                    "WHERE _wb_rownum IN (SELECT unnest(CAST(? AS BIGINT[])))")
        self.rows = rows
        self.frame: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.frame = self.cursor.execute(self.sql, [self.rows]).df()
        except BaseException as exc:  # re-raised in the ingesting thread
            self.error = exc
        finally:
            self.cursor.close()

    def result(self, raw: duckdb.DuckDBPyConnection) -> str:
        """Wait for the rows; return the name of the temp table holding them (_wb_row, _wb_row_data)."""
        self.join()
        if self.error is not None:
            raise self.error
        raw.register("_wb_fetched", self.frame)
        try:
            raw.execute("CREATE OR REPLACE TEMP TABLE _wb_reread AS SELECT _wb_row, _wb_row_data FROM _wb_fetched")
        finally:
            raw.unregister("_wb_fetched")
        return "_wb_reread"


def _classify_repeats(raw: duckdb.DuckDBPyConnection, spec: Table, checked: _Checked, source: str) -> None:
    """Set problem code and raw text of repeated keys (`_wb_cand`) and unknown parents (`_wb_fkmiss`).

    `source` holds the raw text of those rows (_wb_row, _wb_row_data). A repeat identical to the first
    occurrence of its key is a duplicate line, any other a key conflict.
    """
    pk = ", ".join(_q(k) for k in spec.primary_key)
    last = spec.primary_key[-1]
    has_fk = bool(spec.foreign_keys)
    dup, conflict = len(checked.problems) - 1, len(checked.problems)
    raw.execute(f"""
        CREATE OR REPLACE TEMP TABLE _wb_dups AS
        WITH _wb_x AS (
            SELECT _wb_cand.*, _wb_s._wb_row_data,
                first_value(_wb_s._wb_row_data) OVER (PARTITION BY {pk} ORDER BY _wb_cand._wb_row) AS _wb_first
            FROM _wb_cand JOIN {source} AS _wb_s USING (_wb_row))
        SELECT _wb_row, CASE WHEN _wb_row_data = _wb_first THEN {dup} ELSE {conflict} END AS _wb_bad,
            _wb_row_data || chr(1) || CAST({_q(last)} AS VARCHAR) AS _wb_info
        FROM _wb_x WHERE _wb_rank > 1
    """)
    if has_fk:
        raw.execute(f"""
            INSERT INTO _wb_dups
            SELECT _wb_row, NULL, _wb_row_data || coalesce(chr(1) || _wb_value, '')
            FROM _wb_fkmiss JOIN {source} AS _wb_s USING (_wb_row)
        """)
    raw.execute(f"DROP TABLE IF EXISTS {source}")
    target = "_wb_checked._wb_row" if checked.numbered else "(_wb_checked.rowid + 1)"
    raw.execute(f"""
        UPDATE _wb_checked SET _wb_bad = coalesce(d._wb_bad, _wb_checked._wb_bad), _wb_info = d._wb_info
        FROM _wb_dups AS d WHERE {target} = d._wb_row
    """)


def _upsert(raw: duckdb.DuckDBPyConnection, spec: Table) -> None:
    """Insert good rows with new keys; update rows whose key exists and whose values differ; skip the rest.

    (Not INSERT OR REPLACE: DuckDB's replace path on an indexed table is orders of magnitude slower.)
    """
    names = ", ".join(_q(c) for c in spec.column_names)
    stored = {r[0] for r in raw.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = '_wb_checked'").fetchall()}
    values = ", ".join(_q(c.name) if c.name in stored else f"CAST(NULL AS {c.sql_type}) AS {_q(c.name)}"
                       for c in spec.columns)
    on = " AND ".join(f"t.{_q(k)} = c.{_q(k)}" for k in spec.primary_key)
    if raw.execute(f"SELECT count(*) FROM (SELECT 1 FROM {spec.name} LIMIT 1)").fetchone()[0]:
        others = [c for c in spec.column_names if c not in spec.primary_key]
        if others:
            differs = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM c.{_q(c)}" for c in others)
            sets = ", ".join(f"{_q(c)} = c.{_q(c)}" for c in others)
            raw.execute(f"""
                UPDATE {spec.name} AS t SET {sets}
                FROM (SELECT {values} FROM _wb_checked WHERE _wb_bad IS NULL) AS c
                WHERE {on} AND ({differs})
            """)
        raw.execute(f"""
            INSERT INTO {spec.name} ({names})
            SELECT {values} FROM _wb_checked AS c
            WHERE c._wb_bad IS NULL AND NOT EXISTS (SELECT 1 FROM {spec.name} AS t WHERE {on})
        """)
    else:
        raw.execute(f"""
            INSERT INTO {spec.name} ({names})
            SELECT {values} FROM _wb_checked WHERE _wb_bad IS NULL
        """)


# --------------------------------------------------------------------------------------------------
# progress


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
