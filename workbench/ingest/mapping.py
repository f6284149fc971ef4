"""Header mapping (config/mapping.yaml): file header → contract column, value codes, date formats."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.config import from_dict, load_yaml
from workbench.errors import ConfigError, IngestError
from workbench.ingest._sql import _TRIM
from workbench.ingest.numbers import NumberFormat
from workbench.paths import config_file
from workbench.store import TABLES, Table

DEFAULT_MAPPING_FILE = config_file("mapping.yaml")


@dataclass(frozen=True)
class Mapping:
    """Header mapping (config/mapping.yaml): file header → contract column, per table or for all tables.

    columns: header → column for every table; tables: per-table overrides (take precedence);
    values: contract column → {value in the file: contract value} (e.g. 经销商 → distributor);
    date_format: the strptime format of the export's dates (e.g. "%d/%m/%Y"); date_formats: several, for
    exports that mix them (a value two of them read differently is quarantined as ambiguous);
    number_format: {decimal: ",", thousands: "."} for European numbers (default "." and ",");
    currency: the ISO 4217 code of the export's money, recorded in the store's ``meta`` table;
    product_line_map: a CSV (path relative to the mapping file) whose first column holds the export's
    product lines (e.g. SKUs) and second their category: orders store the category (unlisted lines stay).
    """

    columns: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_formats: list[str] = field(default_factory=list)
    date_format: str | None = None
    number_format: dict[str, str] = field(default_factory=dict)
    currency: str | None = None
    product_line_map: str | None = None

    @property
    def numbers(self) -> NumberFormat:
        """The number format (checked when the mapping is loaded)."""
        return NumberFormat.parse(self.number_format, "mapping")


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
    NumberFormat.parse(result.number_format, where)
    if result.currency is not None:
        code = str(result.currency).strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ConfigError(f"{where}: currency must be a three-letter ISO 4217 code such as GBP, not "
                              f"'{result.currency}'.")
        result = replace(result, currency=code)
    if result.product_line_map:
        base = Path(mapping).parent if not isinstance(mapping, dict) else Path.cwd()
        plm = (base / result.product_line_map).resolve()
        if not plm.is_file():
            raise ConfigError(f"{where}: product_line_map {plm} does not exist.")
        result = replace(result, product_line_map=str(plm))
    return result


def default_mapping() -> Mapping:
    """The shipped config/mapping.yaml (common Chinese ERP headers); a missing file is a ConfigError naming it."""
    return load_mapping(DEFAULT_MAPPING_FILE)


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
