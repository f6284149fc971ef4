"""Open the store on any Ibis backend: a DuckDB file path, or a connection URL (``duckdb://``, ``trino://`` …).

The analysis commands (``workbench segment|churn|whatif|retro --db URL``) take either. A URL is handed to
``ibis.connect``; the backend's current database must hold tables named like the canonical tables of
docs/data-contract.md (at least ``partners`` and ``orders``). Ingest, the demo and the report pack
write or read the DuckDB file itself and take a path only.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import ibis

from workbench.errors import WorkbenchError

__all__ = ["connect", "is_url", "redact"]

REQUIRED_TABLES: tuple[str, ...] = ("partners", "orders")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(target: str | Path | None) -> bool:
    """True when `target` is a connection URL (``scheme://…``) rather than a file path."""
    return target is not None and not isinstance(target, Path) and bool(_URL_RE.match(str(target)))


def redact(url: str) -> str:
    """`url` with any password replaced by ``***`` (safe to print in an error message)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def connect(target: str | Path | None = None, *, read_only: bool = True) -> ibis.BaseBackend:
    """An Ibis backend over the store at `target`: a DuckDB file path (None: the default store) or a URL.

    ``duckdb:///path/to/store.duckdb`` opens that file like a path does. Any other URL goes to
    ``ibis.connect``; a backend that is not installed, a failed connection or missing canonical
    tables are a one-sentence WorkbenchError (passwords never appear in it).
    """
    from workbench import store

    if not is_url(target):
        return store.connect(target, read_only=read_only)
    url = str(target)
    scheme = url.split("://", 1)[0].lower()
    if scheme == "duckdb":
        path = url.split("://", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            return store.connect(Path(path), read_only=read_only)
    try:
        con = ibis.connect(url)
    except ImportError as exc:
        raise WorkbenchError(
            f"The {scheme} backend of Ibis is not installed; install it with pip install 'ibis-framework[{scheme}]'."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one sentence
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urlsplit(url).password
        first = first.replace(url, redact(url)) if password is None else first.replace(password, "***")
        raise WorkbenchError(f"Could not connect to {redact(url)}: {first.rstrip('.')}.") from exc
    present = set(con.list_tables())
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise WorkbenchError(
            f"{redact(url)} has no table named {missing[0]}; create tables or views with the canonical names "
            f"of docs/data-contract.md there."
        )
    return con
