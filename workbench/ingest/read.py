"""Reading an export: file kind, encoding (UTF-8 / GB18030), CSV, XLSX and Parquet into the view `_wb_raw`."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import tempfile
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from workbench.errors import IngestError
from workbench.ingest._sql import _first_line, _lit
from workbench.ingest.mapping import Mapping, _resolve_headers
from workbench.store import Table


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
