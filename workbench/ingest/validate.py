"""Validation in set-based SQL: typed values, problem codes, foreign keys (bitmaps), repeated keys."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from workbench.errors import IngestError
from workbench.ingest._sql import _FULL, _HALF, _TRIM, _first_line, _in_list, _lit, _q, _tq
from workbench.ingest.mapping import Mapping, _resolve_headers
from workbench.ingest.numbers import (
    EARLIEST_DATE,
    ambiguous_date_sql,
    date_sql,
    number_sql,
    user_date_formats,
)
from workbench.store import TABLES, Column, Table

_TRUE = ("true", "t", "yes", "y", "1", "是", "对", "return", "退货", "退", "x")


_FALSE = ("false", "f", "no", "n", "0", "否", "不是", "")


# Date columns that may legitimately lie after the run date (planned ends, period bounds).
_FUTURE_OK = {"exit_date", "period_start", "period_end"}


# Free-text columns: only trimmed, never translated from full-width (names keep their punctuation).
_FREE_TEXT = {"name", "province", "city", "region", "contact_name", "comment", "note", "course", "program",
              "product_line", "platform"}


def reason_text(kind: str, column: str = "", table: str = "") -> str:
    """The quarantine reason for a check `kind` on `column` (tests and the dirty exports use the same text)."""
    col = TABLES[table].column(column) if table and column and column in TABLES[table].column_names else None
    if kind == "missing":
        return f"{column} is empty but required"
    if kind == "not_date":
        return f"{column} is not a date"
    if kind == "ambiguous_date":
        return f"{column} could be day/month or month/day; set date_format in the mapping"
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
    if kind == "fields":
        return "the line has more or fewer fields than the header (the value says which line)"
    if kind == "duplicate":
        return "duplicate line: identical to an earlier line in the file"
    if kind == "pk_conflict":
        return f"{column} appears earlier in the file with different values (the first one was kept)"
    raise ValueError(f"unknown reason kind {kind!r}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


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
        typed = date_sql(s, clean, user_date_formats(maps.date_format, maps.date_formats), text=text)
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
        typed = number_sql(s, clean, col.sql_type, maps.numbers, text=text)
    return _ColSQL(col, clean, typed, True, s)


def _checks(spec: Table, cols: dict[str, _ColSQL], run_date: date,
            date_formats: list[str] | None = None) -> list[tuple[str, str, str, str]]:
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
        if kind == "not_date" and cs.present:
            out.append((f"{typed} IS NULL AND {cs.clean} IS NOT NULL AND {ambiguous_date_sql(cs.clean, date_formats or [])}",
                        c.name, cs.clean, reason_text("ambiguous_date", c.name, spec.name)))
        if kind and cs.present:
            out.append((f"{typed} IS NULL AND {cs.clean} IS NOT NULL", c.name, cs.clean,
                        reason_text(kind, c.name, spec.name)))
        if kind == "not_date" and cs.present:
            out.append((f"{typed} < DATE {_lit(EARLIEST_DATE)}", c.name, cs.clean, reason_text(kind, c.name, spec.name)))
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
    # A file without is_return does not say which lines are returns: a negative amount then is one (as
    # features read it), and a stored flag is kept by the upsert.
    if spec.name == "orders" and cols["is_return"].present:
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
    fetch: _RawFetch | _ByteFetch | None = None  # raw rows still being read for repeated keys / unknown parents
    headers: tuple[str, ...] = ()  # the file's columns as read
    fetch_rows: list[int] | None = None  # rows whose raw text is needed (start_fetch reads them)

    def start_fetch(self, raw: duckdb.DuckDBPyConnection, lines: Path | None = None) -> None:
        """Start reading the raw text of `fetch_rows` beside the upsert: from the bytes of `lines` (a CSV
        whose data row N is physical line N + 1, see RecordCounter.simple), else by re-reading the source."""
        if self.fetch_rows is None or self.fetch is not None:
            return
        if lines is not None:
            self.fetch = _ByteFetch(raw, lines, self, self.fetch_rows)
        else:
            self.fetch = _RawFetch(raw, self.source, self.row_data, self.fetch_rows)

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
    noted = "_wb_fieldnote" in src_types  # read carefully: lines with the wrong number of fields are marked
    headers = [h for h in src_types if h not in ("_wb_rownum", "_wb_fieldnote")]
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
    checks = _checks(spec, cols, run_date, user_date_formats(maps.date_format, maps.date_formats))
    if noted:
        checks.insert(0, ("_wb_fieldnote IS NOT NULL", "", "_wb_fieldnote", reason_text("fields")))
    last = spec.primary_key[-1]
    key = ", ".join(_tq(k) for k in spec.primary_key)
    problems = [(col, r) for _, col, _, r in checks]
    problems += [(last, reason_text("duplicate")), (last, reason_text("pk_conflict", last))]
    bad = "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (c, _, _, _) in enumerate(checks, 1)) + " END"
    bad = f"CASE WHEN {_surely_good(spec, cols, checks)} THEN NULL ELSE {bad} END"
    value = "CASE _wb_bad " + " ".join(f"WHEN {i} THEN {v}" for i, (_, _, v, _) in enumerate(checks, 1)) + " END"
    rownum = ("_wb_rownum AS _wb_row, " if numbered else "") + ("_wb_fieldnote, " if noted else "")
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
    if maps.product_line_map and "product_line" in cols and cols["product_line"].present:
        _roll_up_product_lines(raw, maps.product_line_map, where)
    # Without its own numbers, a row's number is its position: the table was written in file order.
    row = "_wb_row" if numbered else "(rowid + 1)"
    checked = _Checked(spec, row, problems, ignored, row_data, numbered, source, headers=tuple(headers))
    fk_codes = {col: 1 + next(i for i, (_, c, _, r) in enumerate(checks) if c == col and r == reason_text("fk", col))
                for col, _ in spec.foreign_keys}
    _confirm_foreign_keys(raw, spec, checked, fk_codes)
    _mark_duplicates(raw, spec, checked)
    return checked


def _roll_up_product_lines(raw: duckdb.DuckDBPyConnection, path: str, where: str) -> None:
    """Replace each product line listed in the mapping's product_line_map CSV (first column) by its category
    (second column), in place in `_wb_checked` (row order kept); unlisted lines stay as they are."""
    try:
        pairs = raw.execute(f"SELECT * FROM read_csv({_lit(path)}, header=true, all_varchar=true)").fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{where}: the product_line_map {path} could not be read ({_first_line(exc)}).") from exc
    if pairs and len(pairs[0]) < 2:
        raise IngestError(f"{where}: the product_line_map {path} needs two columns: product line, category.")
    frame = pd.DataFrame([(str(p[0]).strip(), str(p[1]).strip()) for p in pairs if p[0] is not None and p[1] is not None],
                         columns=["_wb_line", "_wb_category"]).drop_duplicates("_wb_line")
    raw.register("_wb_plmap", frame)
    try:
        raw.execute("UPDATE _wb_checked SET product_line = m._wb_category FROM _wb_plmap AS m "
                    "WHERE _wb_checked.product_line = m._wb_line")
    finally:
        raw.unregister("_wb_plmap")


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
        checked.fetch_rows = [r for (r,) in raw.execute(wanted).fetchall()]
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


class _ByteFetch(threading.Thread):
    """The raw text (JSON) of some rows of a simple CSV, cut from its bytes by line number (no re-parse).

    A simple CSV (no quote, no empty line) holds data row N on physical line N + 1 and its fields are the
    text between delimiters, empty meaning NULL, as DuckDB reads them. If a line does not split into the
    header's fields, the rows are read again by DuckDB instead (_RawFetch).
    """

    def __init__(self, raw: duckdb.DuckDBPyConnection, path: Path, checked: _Checked, rows: list[int]):
        super().__init__(daemon=True)
        self.path, self.checked, self.rows = path, checked, rows
        self.frame: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.frame = self._read()
        except BaseException as exc:  # re-raised in the ingesting thread
            self.error = exc

    def _read(self) -> pd.DataFrame | None:
        """The rows as text columns named like the header, plus _wb_row; None if the file does not split."""
        from workbench.ingest.read import physical_lines

        headers = list(self.checked.headers)
        lines = physical_lines(self.path, [1, *(r + 1 for r in self.rows)])
        first = lines.get(1, b"").decode("utf-8-sig")
        delim = next((d for d in ",;\t|" if [h.strip() for h in first.split(d)] == headers), None)
        if delim is None:
            return None
        data: list[list[str | None]] = []
        for r in self.rows:
            fields = lines[r + 1].decode("utf-8").split(delim) if r + 1 in lines else []
            if len(fields) != len(headers):
                return None
            data.append([f if f != "" else None for f in fields])
        frame = pd.DataFrame(data, columns=headers, dtype="string")
        frame.insert(0, "_wb_row", pd.array(self.rows, dtype="int64"))
        return frame

    def result(self, raw: duckdb.DuckDBPyConnection) -> str:
        """Wait for the rows; return the name of the temp table holding them (_wb_row, _wb_row_data)."""
        self.join()
        if self.error is not None:
            raise self.error
        if self.frame is None:
            return _RawFetch(raw, self.checked.source, self.checked.row_data, self.rows).result(raw)
        raw.register("_wb_fetched", self.frame)
        try:
            raw.execute("CREATE OR REPLACE TEMP TABLE _wb_reread AS "
                        f"SELECT _wb_row, {self.checked.row_data} AS _wb_row_data FROM _wb_fetched")
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
