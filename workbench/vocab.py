"""The shared vocabulary, defined once: `Quarter`, `Scope` (whole company / region / manager) and money.

Definitions are in docs/glossary.md. Every job module takes its quarter, scope and currency from here
instead of parsing or formatting them itself.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from workbench.errors import WorkbenchError

__all__ = [
    "DEFAULT_CURRENCY",
    "Quarter",
    "QuarterLike",
    "Scope",
    "format_money",
    "money_label",
    "set_store_currency",
    "store_currency",
    "store_scope",
    "symbol",
]

# --------------------------------------------------------------------------------------------------
# Quarter
# --------------------------------------------------------------------------------------------------

_QUARTER_RE = re.compile(r"^\s*(\d{4})\s*[-_ ]?\s*[Qq]\s*([1-4])\s*$")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, e.g. ``Quarter(2026, 3)``; ``str(q) == "2026Q3"``; ordered by time."""

    year: int
    number: int  # 1..4

    def __post_init__(self) -> None:
        if not (isinstance(self.number, int) and 1 <= self.number <= 4):
            raise WorkbenchError(f"A quarter number must be 1, 2, 3 or 4, not {self.number!r}.")

    @classmethod
    def parse(cls, value: Quarter | pd.Period | str) -> Quarter:
        """``"2026Q3"``, ``"2026-Q3"``, ``"2026q3"``, a ``pd.Period`` or a Quarter → Quarter.

        Anything else raises a one-sentence WorkbenchError.
        """
        if isinstance(value, Quarter):
            return value
        if isinstance(value, pd.Period):
            p = value.asfreq("Q")
            return cls(int(p.year), int(p.quarter))
        m = _QUARTER_RE.match(value) if isinstance(value, str) else None
        if m is None:
            raise WorkbenchError(f"Quarter {value!r} is not a quarter like 2026Q3.")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, day: dt.date | pd.Timestamp | str) -> Quarter:
        """The quarter that contains `day`."""
        d = _as_date(day)
        return cls(d.year, (d.month - 1) // 3 + 1)

    @classmethod
    def latest_complete(cls, as_of: dt.date | pd.Timestamp | str, *, grace_days: int = 0) -> Quarter:
        """The latest quarter that has ended on or before `as_of`.

        ``grace_days``: a quarter whose last day is at most this many days after `as_of` also counts
        as complete (data that stops in the final week of a quarter covers it).
        """
        d = _as_date(as_of)
        q = cls.containing(d)
        return q if (q.end - d).days <= grace_days else q.prev()

    @property
    def start(self) -> dt.date:
        """First day of the quarter."""
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> dt.date:
        """Last day of the quarter (inclusive)."""
        return self.next().start - dt.timedelta(days=1)

    @property
    def period(self) -> pd.Period:
        """The same quarter as a ``pd.Period`` (freq 'Q')."""
        return pd.Period(year=self.year, quarter=self.number, freq="Q")

    @property
    def quarter(self) -> int:
        """The quarter number 1..4 (as ``pd.Period.quarter``)."""
        return self.number

    @property
    def ordinal(self) -> int:
        """Quarters since year 0: consecutive quarters differ by one."""
        return self.year * 4 + self.number - 1

    def next(self, n: int = 1) -> Quarter:
        """The quarter `n` quarters later."""
        y, q = divmod(self.ordinal + n, 4)
        return Quarter(y, q + 1)

    def prev(self, n: int = 1) -> Quarter:
        """The quarter `n` quarters earlier."""
        return self.next(-n)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


QuarterLike = Quarter | pd.Period | str
"""What every `quarter=` argument accepts: a Quarter, a quarterly pd.Period or text like 2026Q3."""


def _as_date(value: dt.date | pd.Timestamp | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise WorkbenchError(f"{value!r} is not a date like 2026-09-30.") from exc


# --------------------------------------------------------------------------------------------------
# Scope
# --------------------------------------------------------------------------------------------------

ScopeKind = Literal["all", "region", "manager"]


def _blank(value: Any) -> bool:
    """True for None, '' and 'all' (any case, surrounding spaces ignored): the whole company."""
    return value is None or str(value).strip().lower() in ("", "all")


@dataclass(frozen=True)
class Scope:
    """Whose partners a result covers: the whole company, one region, or one account manager."""

    kind: ScopeKind = "all"
    value: str | None = None

    @classmethod
    def parse(cls, region: str | Scope | None = None, manager: str | None = None) -> Scope:
        """Scope from a region and/or manager argument; None, '' and 'all' (any case) mean everyone.

        A Scope passed as `region` comes back unchanged. Naming both a region and a manager is a
        WorkbenchError (a manager's partners are chosen by manager alone).
        """
        if isinstance(region, Scope):
            return region
        if not _blank(region) and not _blank(manager):
            raise WorkbenchError(
                f"Choose a region ({region!s}) or a manager ({manager!s}), not both."
            )
        if not _blank(manager):
            return cls("manager", str(manager).strip())
        if not _blank(region):
            return cls("region", str(region).strip())
        return cls()

    @property
    def is_all(self) -> bool:
        """True when the scope is the whole company."""
        return self.kind == "all"

    @property
    def region(self) -> str | None:
        """The region name, or None unless the scope is a region."""
        return self.value if self.kind == "region" else None

    @property
    def manager(self) -> str | None:
        """The manager (id), or None unless the scope is a manager."""
        return self.value if self.kind == "manager" else None

    @property
    def slug(self) -> str:
        """A safe folder name: 'all', the region name, or 'manager_<id>' (no slashes or spaces)."""
        if self.is_all:
            return "all"
        safe = re.sub(r"[\\/:*?\"<>|\s]+", "_", str(self.value)).strip("._") or self.kind
        return safe if self.kind == "region" else f"manager_{safe}"

    def __str__(self) -> str:
        return "all" if self.is_all else str(self.value)


# --------------------------------------------------------------------------------------------------
# money
# --------------------------------------------------------------------------------------------------

DEFAULT_CURRENCY = "CNY"

_SYMBOLS: dict[str, str] = {
    "CNY": "¥", "RMB": "¥", "JPY": "¥", "GBP": "£", "USD": "$", "EUR": "€", "HKD": "HK$",
    "TWD": "NT$", "SGD": "S$", "AUD": "A$", "CAD": "C$", "NZD": "NZ$", "INR": "₹", "KRW": "₩",
    "RUB": "₽", "TRY": "₺", "VND": "₫", "THB": "฿", "PHP": "₱", "ILS": "₪", "NGN": "₦",
    "BRL": "R$", "MXN": "MX$", "CHF": "CHF ", "SEK": "kr ", "NOK": "kr ", "DKK": "kr ",
}
_CODE_RE = re.compile(r"^[A-Z]{3}$")


def _check_code(code: str) -> str:
    text = str(code).strip().upper()
    if not _CODE_RE.match(text):
        raise WorkbenchError(f"Currency {code!r} is not a three-letter ISO 4217 code like CNY, GBP or USD.")
    return text


def symbol(code: str) -> str:
    """The symbol printed before an amount in `code` (ISO 4217): £ $ € ¥ …; unknown codes → 'XYZ '."""
    text = str(code).strip().upper()
    return _SYMBOLS.get(text, f"{text} ")


def format_money(x: Any, currency: str = DEFAULT_CURRENCY, *, lang: str = "en", decimals: int = 0) -> str:
    """An amount with its symbol and thousands separators: ``format_money(1234.4, "GBP") == "£1,234"``.

    Negative amounts read "-£1,234"; None and NaN read "–". `lang` is accepted for symmetry with the
    other formatters: both languages use the same digits and symbol.
    """
    if x is None:
        return "–"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(v):
        return "–"
    sign = "-" if v < 0 and round(abs(v), decimals) != 0 else ""
    return f"{sign}{symbol(currency)}{abs(v):,.{decimals}f}"


def money_label(base_label: str, currency: str = DEFAULT_CURRENCY) -> str:
    """A column or axis title carrying its currency: ``money_label("Net sales", "GBP") == "Net sales (GBP)"``."""
    return f"{base_label} ({str(currency).strip().upper()})"


def _raw(con: Any) -> Any:
    """The DuckDB connection under an Ibis DuckDB backend, or `con` itself if it is one; else None."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a dependency
        return None
    if isinstance(con, duckdb.DuckDBPyConnection):
        return con
    inner = getattr(con, "con", None)
    return inner if isinstance(inner, duckdb.DuckDBPyConnection) else None


def _meta_value(con: Any, key: str) -> str | None:
    """The value of `key` in the store's table ``meta`` (stripped), or None when the table, key or value is absent.

    `con` is an Ibis backend (any) or a DuckDB connection.
    """
    raw = _raw(con)
    try:
        if raw is not None:
            found = raw.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta' "
                "AND table_schema = current_schema()"
            ).fetchone()[0]
            if not found:
                return None
            row = raw.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
            value = row[0] if row else None
        else:
            if "meta" not in con.list_tables():
                return None
            meta = con.table("meta")
            got = meta.filter(meta.key == key).select("value").limit(1).to_pandas()
            value = got["value"].iloc[0] if len(got) else None
    except Exception:  # noqa: BLE001 - a store without a readable meta table has no metadata
        return None
    if value is None or not str(value).strip():
        return None
    return str(value).strip()


def store_currency(con: Any) -> str:
    """The store's currency (ISO 4217) from table ``meta``, key ``currency``; "CNY" when either is absent."""
    value = _meta_value(con, "currency")
    return DEFAULT_CURRENCY if value is None else value.upper()


def store_scope(con: Any, region: str | Scope | None = None) -> Scope:
    """The scope a page shows: the manager whose partners a report copy of the store holds (``meta`` key
    ``scope_manager``, written by ``reports.scoped_store``), else ``Scope.parse(region)``."""
    manager = _meta_value(con, "scope_manager")
    return Scope("manager", manager) if manager else Scope.parse(region)


def set_store_currency(con: Any, code: str) -> None:
    """Record the store's currency (ISO 4217, e.g. "GBP") in table ``meta``, creating the table if needed."""
    code = _check_code(code)
    raw = _raw(con)
    ddl = "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)"
    if raw is not None:
        raw.execute(ddl)
        raw.execute("DELETE FROM meta WHERE key = 'currency'")
        raw.execute("INSERT INTO meta VALUES ('currency', ?)", [code])
        return
    con.raw_sql(ddl)  # pragma: no cover - other backends
    con.raw_sql("DELETE FROM meta WHERE key = 'currency'")  # pragma: no cover
    con.raw_sql(f"INSERT INTO meta VALUES ('currency', '{code}')")  # pragma: no cover
