"""Read an export → map its headers → validate every row in DuckDB → upsert good rows | quarantine bad ones.

Guarantees (docs/data-contract.md, "Guarantees"):

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

Layout: ``mapping`` (headers → contract columns), ``read`` (files into the view ``_wb_raw``), ``validate``
(problem codes in SQL), ``upsert`` (writing by key), ``loads`` (one ingest = one transaction, quarantine
and log). Import from ``workbench.ingest``; the modules are internal.
"""

from __future__ import annotations

from workbench.ingest.loads import (
    IngestResult,
    RollbackResult,
    check_demo_may_replace,
    ingest_file,
    ingest_frame,
    list_loads,
    rollback_load,
)
from workbench.ingest.mapping import Mapping, default_mapping, load_mapping, normalize_header
from workbench.ingest.read import detect_encoding, detect_header_row
from workbench.ingest.validate import reason_text

__all__ = [
    "IngestResult",
    "check_demo_may_replace",
    "Mapping",
    "default_mapping",
    "detect_encoding",
    "detect_header_row",
    "ingest_file",
    "ingest_frame",
    "list_loads",
    "rollback_load",
    "RollbackResult",
    "load_mapping",
    "normalize_header",
    "reason_text",
]
