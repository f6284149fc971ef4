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
        "all_varchar=true, auto_detect=true, quote='\"', escape='\"', null_padding=false, strict_mode=true, "
        "sample_size=20480)"
    )


def _load_csv(raw: duckdb.DuckDBPyConnection, path: Path, where: str, tmp_files: list[Path],
              *, force_gb18030: bool = False, careful: bool = False) -> str:
    """Define the view `_wb_raw` over the CSV (transcoding GB18030 first); return the SQL reading it.

    DuckDB's strict reader is the fast path. `careful` (after it refused the file: a line with more or
    fewer fields than the header, a line break inside quotes, a dialect it cannot sniff) reads the file
    with Python's csv module into numbered rows instead, marking each mis-sized line (returns "").
    """
    enc = "gb18030" if force_gb18030 else detect_encoding(path)
    if careful:
        _load_csv_careful(raw, path, enc, where)
        return ""
    source = _transcode(path, tmp_files) if enc == "gb18030" else path
    try:
        raw.execute(f"CREATE OR REPLACE TEMP VIEW _wb_raw AS {_read_csv_sql(source)}")
    except duckdb.Error as exc:
        if enc != "gb18030" and "unicode" in str(exc).lower():
            raise _NotUtf8 from exc
        raise CsvNeedsCare from exc
    return _read_csv_sql(source)


class CsvNeedsCare(Exception):
    """DuckDB's strict reader refused the file, or its rows disagree with the record count: read carefully."""


def _load_csv_careful(raw: duckdb.DuckDBPyConnection, path: Path, enc: str, where: str) -> None:
    """Read the CSV with Python's csv module into temp table `_wb_sheet` (view `_wb_raw`): text columns,
    `_wb_rownum` (data rows counted as a person does) and `_wb_fieldnote` (set on a line whose field count
    differs from the header's: that row is quarantined, never padded or merged)."""
    import csv

    try:
        with (gzip.open(path, "rt", encoding=enc, newline="") if path.suffix.lower() in (".gz", ".gzip")
              else path.open("r", encoding=enc, newline="")) as fh:
            sample = fh.read(1 << 16)
            fh.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0] or ",", delimiters=",;\t|")
                delim = dialect.delimiter
            except csv.Error:
                delim = ","
            reader = csv.reader(fh, delimiter=delim, quotechar='"', doublequote=True, strict=False)
            header: list[str] | None = None
            data: list[list[str | None]] = []
            numbers: list[int] = []
            notes: list[str | None] = []
            prev_line = 0
            for rec in reader:
                first_line, prev_line = prev_line + 1, reader.line_num
                if not rec or rec == [""] and header is not None:
                    continue  # an empty line is not a data row
                if header is None:
                    header = [h.strip() or f"column_{j + 1}" for j, h in enumerate(rec)]
                    continue
                numbers.append(len(numbers) + 1)
                if len(rec) != len(header):
                    notes.append(f"line {first_line} has {len(rec)} fields, the header has {len(header)}")
                    rec = (rec + [""] * len(header))[: len(header)]
                else:
                    notes.append(None)
                data.append([v if v != "" else None for v in rec])
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise IngestError(f"{where} could not be read as CSV ({_first_line(exc)}).") from exc
    if header is None:
        raise IngestError(f"{where} holds no header line.")
    names: list[str] = []
    for h in header:
        while h in names:
            h += "_"
        names.append(h)
    frame = pd.DataFrame(data, columns=names, dtype="string") if data else pd.DataFrame(
        {n: pd.array([], dtype="string") for n in names})
    frame["_wb_rownum"] = pd.array(numbers, dtype="int64")
    frame["_wb_fieldnote"] = pd.array(notes, dtype="string")
    raw.register("_wb_frame", frame)
    try:
        raw.execute("CREATE OR REPLACE TEMP TABLE _wb_sheet AS SELECT * FROM _wb_frame")
    finally:
        raw.unregister("_wb_frame")
    raw.execute("CREATE OR REPLACE TEMP VIEW _wb_raw AS SELECT * FROM _wb_sheet")


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


class RecordCounter:
    """Counts a CSV's records from its bytes, independently of any CSV parser.

    A record ends at a newline outside double quotes; empty lines (or a lone carriage return) are not
    records, as DuckDB's reader skips them. Newlines are found with numpy; quote parity is worked out only
    in chunks holding a quote. Works on UTF-8 and GB18030 bytes alike (neither puts 0x0A or 0x22 inside a
    multi-byte character). `simple` stays true while the file has no quote, no empty line and no carriage
    return outside a CRLF line end: then data row N is physical line N + 1 (see physical_lines).
    """

    def __init__(self) -> None:
        self.records = 0
        self.in_quote = False
        self.carry = False  # the unfinished line so far holds something
        self.simple = True
        self.cr_pending = False  # the last chunk ended in a carriage return

    def feed(self, chunk: bytes) -> None:
        """Count the records that end in `chunk`."""
        if not chunk:
            return
        import numpy as np

        a = np.frombuffer(chunk, dtype=np.uint8)
        nl = np.flatnonzero(a == 10)
        if self.in_quote or chunk.find(b'"') >= 0:
            self.simple = False
            qs = np.flatnonzero(a == 34)
            parity = (int(self.in_quote) + np.searchsorted(qs, nl)) % 2
            ends = nl[parity == 0]
            self.in_quote = bool((int(self.in_quote) + len(qs)) % 2)
        else:
            ends = nl
        if self.simple and (self.cr_pending or chunk.find(b"\r") >= 0):
            text = (b"\r" if self.cr_pending else b"") + chunk  # a CRLF may straddle two chunks
            self.cr_pending = text.endswith(b"\r")
            if text.count(b"\r") - self.cr_pending != text.count(b"\r\n"):
                self.simple = False
        if len(ends):
            starts = np.concatenate(([0], ends[:-1] + 1))
            lens = ends - starts
            blank = (lens == 0) | ((lens == 1) & (a[np.maximum(ends - 1, 0)] == 13))
            if self.carry:
                blank[0] = False
            n_blank = int(blank.sum())
            if n_blank:
                self.simple = False
            self.records += int(len(ends)) - n_blank
            tail = chunk[int(ends[-1]) + 1:]
            self.carry = tail not in (b"", b"\r")
        else:
            self.carry = self.carry or chunk not in (b"", b"\r")

    def finish(self) -> int:
        """Records in the whole input (a last line without a newline counts)."""
        if self.cr_pending:
            self.simple = False
        return self.records + (1 if self.carry else 0)


def physical_lines(path: Path, numbers: list[int], *, chunk_bytes: int = 16 << 20) -> dict[int, bytes]:
    """The physical lines `numbers` (1-based) of an uncompressed file, without newline and trailing CR.

    One pass over the bytes in large chunks (newlines found with numpy); no CSV parsing.
    """
    import numpy as np

    want = np.unique(np.asarray(numbers, dtype=np.int64))
    out: dict[int, bytes] = {}
    base, carry = 0, b""  # lines ended before this chunk; the unfinished line so far
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_bytes):
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            lo, hi = np.searchsorted(want, [base + 1, base + len(nl) + 1])
            for k in want[lo:hi].tolist():
                i = k - base - 1
                line = chunk[int(nl[i - 1]) + 1 if i else 0:int(nl[i])]
                out[k] = carry + line if i == 0 else line
            carry = chunk[int(nl[-1]) + 1:] if len(nl) else carry + chunk
            base += len(nl)
    if carry and base + 1 in want:
        out[base + 1] = carry
    return {k: v[:-1] if v.endswith(b"\r") else v for k, v in out.items()}


class _Sha256Thread(threading.Thread):
    """sha256 of a file computed beside the DuckDB read (hashlib releases the GIL on large buffers); for a
    CSV also its independent record count (`records`, header included)."""

    def __init__(self, path: Path, *, count_records: bool = False):
        super().__init__(daemon=True)
        self.path = path
        self.count_records = count_records
        self.hexdigest = ""
        self.records: int | None = None
        self.simple = False  # see RecordCounter.simple (an uncompressed CSV only)
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            h = hashlib.sha256()
            gz = self.path.suffix.lower() in (".gz", ".gzip")
            counter = RecordCounter() if self.count_records else None
            with self.path.open("rb") as fh:
                while chunk := fh.read(8 << 20):
                    h.update(chunk)
                    if counter is not None and not gz:
                        counter.feed(chunk)
            self.hexdigest = h.hexdigest()
            if counter is not None and gz:
                with gzip.open(self.path, "rb") as fh:
                    while chunk := fh.read(8 << 20):
                        counter.feed(chunk)
            if counter is not None:
                self.records = counter.finish()
                self.simple = counter.simple and not gz
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            self.error = exc


def _frame_sha256(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr([str(c) for c in frame.columns]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()
