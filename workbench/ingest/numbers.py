"""Numbers and dates as text: read exactly or quarantined, never rescaled or guessed (SQL builders).

Numbers, default format: ``.`` is the decimal mark and ``,`` only a thousands separator in valid groups of
three (``1,234.50``). Full-width digits and signs (``１２３４.５``, ``－``; made ASCII by the cleaning step),
currency symbols (¥ ￥ $ € £ 元), the minus sign ``−`` and accounting negatives ``(1,234.00)`` are
accepted. Anything else (``1,5``, ``1.234,5``) is not a number. The mapping's
``number_format: {decimal: ",", thousands: "."}`` reads European exports (``1.234,56`` is 1234.56).

Dates: ISO dates and a few unambiguous year-first forms always; the mapping's ``date_format`` (one strptime
format, e.g. ``"%d/%m/%Y"``) and ``date_formats`` (several). A value that two formats read as different
dates, or that reads as both day/month and month/day, is ambiguous and quarantined, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.errors import ConfigError
from workbench.ingest._sql import _lit

# Characters dropped from a number before it is parsed (currency symbols); U+2212 is read as a minus.
_SYMBOLS = "¥￥$€£元"
_DECIMALS = (".", ",")
_THOUSANDS = (",", ".", " ", "'", "")
# Year-first forms that cannot be ambiguous, tried after DuckDB's own ISO cast.
FIXED_DATE_FORMATS = ("%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
# Day-first and month-first forms: a value both read, as different dates, is ambiguous.
_DAY_MONTH = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")
_MONTH_DAY = ("%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y")
EARLIEST_DATE = "1900-01-01"  # earlier dates are misreadings (a cast of "1/2/26" gives the year 1)


@dataclass(frozen=True)
class NumberFormat:
    """Decimal mark and thousands separator of an export's numbers."""

    decimal: str = "."
    thousands: str = ","

    @classmethod
    def parse(cls, spec: dict | None, where: str) -> NumberFormat:
        """From the mapping's ``number_format`` dict (keys decimal, thousands); ConfigError names a bad value."""
        if not spec:
            return cls()
        unknown = set(spec) - {"decimal", "thousands"}
        if unknown:
            raise ConfigError(f"{where}: number_format has unknown key '{sorted(unknown)[0]}' (use decimal, thousands).")
        dec = str(spec.get("decimal", "."))
        default_thousands = "." if dec == "," else ","
        th = "" if spec.get("thousands") is None and "thousands" in spec else str(spec.get("thousands", default_thousands))
        if dec not in _DECIMALS:
            raise ConfigError(f"{where}: number_format decimal must be '.' or ',', not '{dec}'.")
        if th not in _THOUSANDS or th == dec:
            raise ConfigError(f"{where}: number_format thousands must be one of , . space ' or empty, and differ "
                              f"from the decimal mark (got '{th}').")
        return cls(dec, th)


def _normalized(clean: str, fmt: NumberFormat) -> str:
    """SQL: the cleaned text as a plain number literal (dot decimal, no grouping), or NULL if it is not one."""
    x = f"trim(translate({clean}, {_lit(chr(0x2212) + _SYMBOLS)}, '-'))"
    x = f"(CASE WHEN starts_with({x}, '(') AND ends_with({x}, ')') THEN '-' || trim(substr({x}, 2, length({x}) - 2)) ELSE {x} END)"
    d = re.escape(fmt.decimal)
    plain = rf"[+-]?(\d+({d}\d*)?|{d}\d+)" + (r"([eE][+-]?\d+)?" if fmt.decimal == "." else "")
    cases = [f"WHEN regexp_full_match(_n, {_lit(plain)}) THEN " + ("_n" if fmt.decimal == "." else "replace(_n, ',', '.')")]
    if fmt.thousands:
        t = re.escape(fmt.thousands)
        grouped = rf"[+-]?\d{{1,3}}({t}\d{{3}})+({d}\d*)?"
        out = f"replace(_n, {_lit(fmt.thousands)}, '')"
        if fmt.decimal != ".":
            out = f"replace({out}, {_lit(fmt.decimal)}, '.')"
        cases.append(f"WHEN regexp_full_match(_n, {_lit(grouped)}) THEN {out}")
    # A lambda binds the normalised text once (DuckDB has no LET in expressions).
    return f"list_transform([{x}], _n -> CASE {' '.join(cases)} END)[1]"


def number_sql(src: str, clean: str, sql_type: str, fmt: NumberFormat, *, text: bool) -> str:
    """SQL: the typed number read from raw column `src` (cleaned text `clean`), NULL when not a number.

    The fast path (DuckDB's own cast of the raw text) is taken only in the default format, where it reads
    exactly the plain numbers; every other value goes through the strict reader above.
    """
    t = sql_type.upper()
    if not text:
        return f"TRY_CAST({src} AS {sql_type})"
    slow = f"TRY_CAST({_normalized(clean, fmt)} AS {'DOUBLE' if t == 'INTEGER' else sql_type})"
    default = fmt == NumberFormat()
    if t == "INTEGER":
        d = f"COALESCE(TRY_CAST({src} AS DOUBLE), {slow})" if default else slow
        return f"(CASE WHEN {d} = round({d}) THEN CAST({d} AS INTEGER) END)"
    return f"COALESCE(TRY_CAST({src} AS {sql_type}), {slow})" if default else slow


def user_date_formats(date_format: str | None, date_formats: list[str]) -> list[str]:
    """The mapping's date formats in order, without repeats."""
    out: list[str] = []
    for f in ([date_format] if date_format else []) + list(date_formats):
        if f not in out:
            out.append(f)
    return out


def date_sql(src: str, clean: str, formats: list[str], *, text: bool) -> str:
    """SQL: the typed date from raw column `src` (cleaned `clean`); NULL when no format reads it or the
    mapping's formats disagree about it (ambiguous)."""
    if not text:
        return f"TRY_CAST({src} AS DATE)"
    fixed = f"CAST(TRY_STRPTIME({clean}, [{', '.join(_lit(f) for f in FIXED_DATE_FORMATS)}]) AS DATE)"
    parts = [f"TRY_CAST({src} AS DATE)", f"TRY_CAST({clean} AS DATE)", fixed]
    if len(formats) == 1:
        parts.append(f"CAST(TRY_STRPTIME({clean}, {_lit(formats[0])}) AS DATE)")
    elif formats:
        reads = ", ".join(f"CAST(TRY_STRPTIME({clean}, {_lit(f)}) AS DATE)" for f in formats)
        parts.append(f"(CASE WHEN len(list_distinct([{reads}])) <= 1 THEN coalesce({reads}) END)")
    return f"COALESCE({', '.join(parts)})"


def ambiguous_date_sql(clean: str, formats: list[str]) -> str:
    """SQL true when the cleaned text reads as two different dates (the mapping's formats, or day/month
    against month/day when the mapping names none that reads it)."""
    cands = [*formats, *_DAY_MONTH, *_MONTH_DAY]
    reads = ", ".join(f"CAST(TRY_STRPTIME({clean}, {_lit(f)}) AS DATE)" for f in cands)
    return f"len(list_distinct([{reads}])) > 1"
