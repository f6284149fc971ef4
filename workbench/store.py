"""Open or create the DuckDB store; the schema of the data contract (docs/data-contract.md) lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir

from workbench.paths import default_db


@dataclass(frozen=True)
class Column:
    """One column of a canonical table: SQL type, required flag, allowed values or range."""

    name: str
    sql_type: str  # VARCHAR, DATE, DOUBLE, DECIMAL(18,2), BOOLEAN, INTEGER, TIMESTAMP
    required: bool = False
    enum: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    personal: bool = False  # personal data: never shown in a report


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns, primary key and foreign keys (column → parent table)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[tuple[str, str], ...] = ()

    @property
    def column_names(self) -> list[str]:
        """Column names in contract order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The Column called `name`."""
        return next(c for c in self.columns if c.name == name)


CHANNEL_TYPES = ("distributor", "wholesaler", "dealer", "retailer", "ecommerce", "key_account", "other")
CONFLICT_TYPES = ("price", "territory", "customer_ownership", "other")
ACTION_TYPES = ("training", "incentive", "marketing_automation", "tiering", "communication", "visit", "other")
MONEY = "DECIMAL(18,2)"

C = Column
TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "partners",
            (
                C("partner_id", "VARCHAR", True),
                C("name", "VARCHAR", True),
                C("region", "VARCHAR", True),
                C("province", "VARCHAR"),
                C("city", "VARCHAR"),
                C("channel_type", "VARCHAR", True, enum=CHANNEL_TYPES),
                C("onboard_date", "DATE", True),
                C("exit_date", "DATE"),
                C("contact_name", "VARCHAR", personal=True),
                C("contact_phone", "VARCHAR", personal=True),
                C("manager_id", "VARCHAR"),
                C("manager_name", "VARCHAR", personal=True),
                C("platform", "VARCHAR"),  # optional: e-commerce platform (Tmall, JD, Amazon, ...)
            ),
            ("partner_id",),
        ),
        Table(
            "orders",
            (
                C("order_id", "VARCHAR", True),
                C("partner_id", "VARCHAR", True),
                C("order_date", "DATE", True),
                C("product_line", "VARCHAR"),
                C("quantity", "DOUBLE"),
                C("net_amount", MONEY, True),
                C("list_amount", MONEY, min_value=0),
                C("is_return", "BOOLEAN"),
            ),
            ("order_id",),
            (("partner_id", "partners"),),
        ),
        Table(
            "incentives",
            (
                C("incentive_id", "VARCHAR", True),
                C("partner_id", "VARCHAR", True),
                C("program", "VARCHAR", True),
                C("period_start", "DATE", True),
                C("period_end", "DATE", True),
                C("amount_due", MONEY, True, min_value=0),
                C("amount_paid", MONEY, min_value=0),
                C("paid_date", "DATE"),
            ),
            ("incentive_id",),
            (("partner_id", "partners"),),
        ),
        Table(
            "surveys",
            (
                C("survey_id", "VARCHAR", True),
                C("partner_id", "VARCHAR", True),
                C("survey_date", "DATE", True),
                C("satisfaction", "DOUBLE", True, min_value=0, max_value=100),
                C("nps", "DOUBLE", min_value=0, max_value=10),
                C("comment", "VARCHAR"),
            ),
            ("survey_id",),
            (("partner_id", "partners"),),
        ),
        Table(
            "trainings",
            (
                C("training_id", "VARCHAR", True),
                C("partner_id", "VARCHAR", True),
                C("training_date", "DATE", True),
                C("course", "VARCHAR"),
                C("passed", "BOOLEAN"),
                C("score", "DOUBLE", min_value=0, max_value=100),
            ),
            ("training_id",),
            (("partner_id", "partners"),),
        ),
        Table(
            "conflicts",
            (
                C("conflict_id", "VARCHAR", True),
                C("reported_date", "DATE", True),
                C("partner_id", "VARCHAR", True),
                C("counterparty_id", "VARCHAR"),
                C("conflict_type", "VARCHAR", True, enum=CONFLICT_TYPES),
                C("severity", "INTEGER", True, min_value=1, max_value=3),
                C("resolved_date", "DATE"),
            ),
            ("conflict_id",),
            (("partner_id", "partners"),),
        ),
        Table(
            "actions",
            (
                C("action_id", "VARCHAR", True),
                C("partner_id", "VARCHAR", True),
                C("action_date", "DATE", True),
                C("action_type", "VARCHAR", True, enum=ACTION_TYPES),
                C("note", "VARCHAR"),
                C("cost", "DOUBLE", min_value=0),  # optional: cost of the action (store currency)
            ),
            ("action_id",),
            (("partner_id", "partners"),),
        ),
        Table(
            "coverage",
            (
                C("partner_id", "VARCHAR", True),
                C("month", "DATE", True),
                C("active_outlets", "DOUBLE", True, min_value=0),
            ),
            ("partner_id", "month"),
            (("partner_id", "partners"),),
        ),
    ]
}

# Load order: parents before children.
TABLE_ORDER: tuple[str, ...] = tuple(TABLES)

# Every canonical table row carries the id of the load that last wrote it (NULL for rows older than load
# history). Readers of the contract select contract columns; this one is bookkeeping (see docs/ingest.md).
LOAD_ID = "_load_id"
# Partner attributes whose changes are kept with valid_from / valid_to (partner_history).
HISTORY_COLUMNS: tuple[str, ...] = ("region", "channel_type", "manager_id")

BOOKKEEPING_DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS quarantine (
        table_name VARCHAR, file VARCHAR, row_number BIGINT, "column" VARCHAR,
        value VARCHAR, reason VARCHAR, quarantined_at TIMESTAMP, row_data VARCHAR)""",
    # One row per ingest (a load); never deleted, only marked rolled back.
    """CREATE TABLE IF NOT EXISTS loads (
        load_id BIGINT, table_name VARCHAR, file VARCHAR, content_sha256 VARCHAR, mode VARCHAR,
        rows_read BIGINT, rows_accepted BIGINT, rows_quarantined BIGINT, rows_inserted BIGINT,
        rows_updated BIGINT, loaded_at TIMESTAMP, rolled_back BOOLEAN, rolled_back_at TIMESTAMP,
        options VARCHAR)""",
    # Region, channel type and manager of each partner over time: valid_from inclusive (NULL: since the
    # partner's first record), valid_to exclusive (NULL: still valid); load_id opened the row, closed_by closed it.
    """CREATE TABLE IF NOT EXISTS partner_history (
        partner_id VARCHAR, region VARCHAR, channel_type VARCHAR, manager_id VARCHAR,
        valid_from DATE, valid_to DATE, load_id BIGINT, closed_by BIGINT)""",
    "CREATE SCHEMA IF NOT EXISTS history",
]


def before_table(name: str) -> str:
    """The table keeping before-images of `name`'s rows (as they were before a load changed them)."""
    return f"history.before_{name}"


def table_ddl(table: Table) -> str:
    """CREATE TABLE statement for a canonical table: columns, types and NOT NULL for required columns.

    Primary and foreign keys are declared in TABLES (Table.primary_key/foreign_keys) and enforced by
    workbench.ingest in set-based SQL (repeated keys quarantined, upsert by key, unknown parents
    quarantined), not by DuckDB constraints: their ART indexes made a 10-million-line load 2.5x slower and
    used ~60 bytes of memory per row.
    """
    cols = [f'"{c.name}" {c.sql_type}{" NOT NULL" if c.required else ""}' for c in table.columns]
    cols.append(f'"{LOAD_ID}" BIGINT')
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  " + ",\n  ".join(cols) + "\n)"


def create_schema(raw: duckdb.DuckDBPyConnection) -> None:
    """Create every canonical and bookkeeping table that does not exist yet, and bring an older store's
    tables up to the current contract (new optional columns, load history); idempotent."""
    for ddl in BOOKKEEPING_DDL:
        raw.execute(ddl)
    for name in TABLE_ORDER:
        raw.execute(table_ddl(TABLES[name]))
        have = {r[0] for r in raw.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? "
            "AND database_name = current_database()", [name]).fetchall()}
        for c in TABLES[name].columns:
            if c.name not in have:  # a store made before the column joined the contract
                raw.execute(f'ALTER TABLE {name} ADD COLUMN "{c.name}" {c.sql_type}')
        if LOAD_ID not in have and have:
            raw.execute(f'ALTER TABLE {name} ADD COLUMN "{LOAD_ID}" BIGINT')
        cols = ", ".join(f'"{c}"' for c in (*TABLES[name].column_names, LOAD_ID))
        raw.execute(f"CREATE TABLE IF NOT EXISTS {before_table(name)} AS "
                    f"SELECT CAST(NULL AS BIGINT) AS _by_load, {cols} FROM {name} LIMIT 0")
    raw.execute('ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS load_id BIGINT')
    _migrate_ingest_log(raw)
    raw.execute("""CREATE VIEW IF NOT EXISTS ingest_log AS
        SELECT table_name, file, content_sha256 AS sha256, rows_read, rows_accepted, rows_quarantined,
               loaded_at AS ingested_at, load_id
        FROM loads WHERE NOT rolled_back""")
    # What sits in quarantine now: each file's latest load that is not rolled back (older loads' rows stay
    # in `quarantine` as their record, but a newer export under the same name supersedes them on pages).
    raw.execute("""CREATE VIEW IF NOT EXISTS quarantine_current AS
        SELECT q.* FROM quarantine AS q LEFT JOIN loads AS l ON l.load_id = q.load_id
        WHERE q.load_id IS NULL OR (NOT l.rolled_back AND NOT EXISTS (
            SELECT 1 FROM loads AS m WHERE m.table_name = l.table_name AND m.file = l.file
                AND m.load_id > l.load_id AND NOT m.rolled_back))""")
    # Partners older than load history get their current attributes as their history.
    raw.execute(f"""INSERT INTO partner_history
        SELECT partner_id, {", ".join(HISTORY_COLUMNS)}, NULL, NULL, NULL, NULL FROM partners AS p
        WHERE NOT EXISTS (SELECT 1 FROM partner_history AS h WHERE h.partner_id = p.partner_id)""")
    raw.execute("CREATE SCHEMA IF NOT EXISTS truth")


def _migrate_ingest_log(raw: duckdb.DuckDBPyConnection) -> None:
    """A store from before load history kept ingest_log as a table: its rows become loads, it a view."""
    kind = raw.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'ingest_log' "
                       "AND table_schema = 'main' AND table_catalog = current_database()").fetchone()
    if kind is None or kind[0] != "BASE TABLE":
        return
    raw.execute("""INSERT INTO loads
        SELECT row_number() OVER (ORDER BY ingested_at, file), table_name, file, sha256, 'upsert', rows_read,
               rows_accepted, rows_quarantined, NULL, NULL, ingested_at, false, NULL, NULL FROM ingest_log""")
    raw.execute("DROP TABLE ingest_log")


def quarantine_relation(raw: duckdb.DuckDBPyConnection) -> str:
    """The relation to count "rows in quarantine" from: the view quarantine_current (each file's latest
    load, not rolled back) where the store has it, else the quarantine table (an older store)."""
    found = raw.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'quarantine_current' "
                        "AND table_schema = 'main'").fetchone()[0]
    return "quarantine_current" if found else "quarantine"


def connect(db: str | Path | None = None, *, read_only: bool = False) -> ibis.BaseBackend:
    """Open the store as an Ibis DuckDB backend, creating file and schema unless read_only."""
    path = Path(db) if db is not None else default_db()
    if read_only:
        if not path.exists():
            from workbench.errors import WorkbenchError

            raise WorkbenchError(f"The store {path} does not exist; run `workbench demo` or `workbench ingest` first.")
        return ibis.duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = ibis.duckdb.connect(str(path))
    create_schema(raw_connection(con))
    return con


def raw_connection(con: ibis.BaseBackend) -> duckdb.DuckDBPyConnection:
    """The underlying duckdb connection of an Ibis DuckDB backend (for bulk SQL in ingest)."""
    return con.con


def row_counts(con: ibis.BaseBackend) -> dict[str, int]:
    """Rows per canonical table plus quarantine."""
    raw = raw_connection(con)
    return {
        name: raw.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for name in (*TABLE_ORDER, "quarantine")
    }


def fingerprint(con: ibis.BaseBackend) -> tuple | None:
    """Identity of a file store's current contents: (path, size and mtime of the file and its WAL), or for a
    Parquet folder opened by ``backends.local_spark`` (folder, name, size and mtime of each file); None for
    in-memory or other backends (whose contents cannot be told apart)."""
    folder = getattr(con, "_wb_parquet_dir", None)
    if folder is not None:
        files = []
        for f in sorted(Path(folder).glob("*.parquet")):
            try:
                st = f.stat()
            except OSError:
                continue
            files.append((f.name, st.st_size, st.st_mtime_ns))
        return ("parquet", str(folder), *files)
    raw = getattr(con, "con", None)
    if not isinstance(raw, duckdb.DuckDBPyConnection):
        return None
    try:
        row = raw.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    except duckdb.Error:
        return None
    if not row or not row[0]:
        return None
    path = Path(row[0]).resolve()
    stats = []
    for f in (path, path.with_name(path.name + ".wal")):
        try:
            st = f.stat()
            stats.append((st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append(None)
    return (str(path), *stats)


def cached_per_store(maxsize: int = 16, *, unkeyed: tuple[str, ...] = ()):
    """Decorator: memoize ``fn(con, **kwargs)`` per store :func:`fingerprint` and keyword arguments (all
    hashable but those named in `unkeyed`, which some keyed argument must describe), in this process;
    results are deep-copied out so callers cannot change the cache. For network-wide results that
    several reports of one store ask for (tiers, segment fits)."""
    import copy
    import functools
    from collections import OrderedDict

    def wrap(fn):
        cache: OrderedDict = OrderedDict()

        @functools.wraps(fn)
        def inner(con: ibis.BaseBackend, **kwargs):
            fp = fingerprint(con)
            if fp is None:
                return fn(con, **kwargs)
            key = (fp, tuple(sorted((k, v) for k, v in kwargs.items() if k not in unkeyed)))
            if key not in cache:
                cache[key] = fn(con, **kwargs)
                while len(cache) > maxsize:
                    cache.popitem(last=False)
            cache.move_to_end(key)
            return copy.deepcopy(cache[key])

        inner.cache_clear = cache.clear  # type: ignore[attr-defined]
        return inner

    return wrap


def partners_at(con: ibis.BaseBackend, partners: ir.Table, when: date) -> ir.Table:
    """`partners` with region, channel_type and manager_id as they were on `when` (from partner_history).

    A partner with no history row covering `when` keeps its current values; a store without history
    (or another backend lacking the table) returns `partners` unchanged.
    """
    if "partner_history" not in con.list_tables():
        return partners
    h = con.table("partner_history")
    d = ibis.literal(when, "date")
    h = h.filter((h.valid_from.isnull() | (h.valid_from <= d)) & (h.valid_to.isnull() | (h.valid_to > d)))
    h = h.select(_h_id=h.partner_id, **{f"_h_{c}": h[c] for c in HISTORY_COLUMNS})
    j = partners.left_join(h, partners.partner_id == h._h_id)
    hit = j._h_id.notnull()
    cols = {c: (ibis.ifelse(hit, j[f"_h_{c}"], j[c]) if c in HISTORY_COLUMNS else j[c]) for c in partners.columns}
    return j.select(**cols)


def partners_at_sql(raw: duckdb.DuckDBPyConnection, when: date | None) -> str:
    """SQL relation: the partners table with region, channel_type and manager_id as they were on `when`.

    The raw-SQL twin of :func:`partners_at`, for readers on a duckdb connection; `when` None, or a store
    without partner_history, gives plain ``partners``.
    """
    if when is None or not raw.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
                                       "AND table_name = 'partner_history'").fetchone()[0]:
        return "partners"
    have = {r[0] for r in raw.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' "
                                      "AND table_name = 'partners'").fetchall()}
    cols = [c for c in HISTORY_COLUMNS if c in have]
    d = f"DATE '{when.isoformat()}'"
    swap = ", ".join(f"CASE WHEN _h.partner_id IS NULL THEN _p.{c} ELSE _h.{c} END AS {c}" for c in cols)
    return (f"(SELECT _p.* REPLACE ({swap}) FROM partners AS _p LEFT JOIN (SELECT * FROM partner_history "
            f"WHERE (valid_from IS NULL OR valid_from <= {d}) AND (valid_to IS NULL OR valid_to > {d})) AS _h "
            "ON _h.partner_id = _p.partner_id)")
