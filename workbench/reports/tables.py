"""The tables of report pages as an Excel workbook: one workbook per pack, one sheet per table.

``save_page_tables`` reads a rendered notebook's HTML tables (in page order, each named by the heading
above it) into a small JSON file; ``write_workbook`` turns a pack's files into ``tables.xlsx``. Amounts
shown as "£1,234" become numbers (the header carries the currency), "12.3%" becomes 0.123 shown as a
percentage, "–" an empty cell.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from workbench.reports.html import notebook_title

__all__ = ["page_tables", "save_page_tables", "write_workbook"]

_NUM = re.compile(r"^(?P<sign>[-+−]?)(?P<sym>[^\d\s.,+−-]{0,3}\s?)(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)(?P<pct>%?)$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


class _Tables(HTMLParser):
    """Headings (h1–h4) and tables of an HTML fragment, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, Any]] = []  # ("heading", text) | ("table", [[cells], ...])
        self._heading: list[str] | None = None
        self._rows: list[list[tuple[str, bool]]] | None = None
        self._cell: list[str] | None = None
        self._is_th = False
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3", "h4") and self._rows is None:
            self._heading = []
        elif tag == "table":
            self._depth += 1
            if self._depth == 1:
                self._rows = []
        elif tag == "tr" and self._rows is not None and self._depth == 1:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None and self._depth == 1:
            self._cell, self._is_th = [], tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            text = " ".join("".join(self._heading).replace("¶", "").split())
            self.items.append(("heading", text))
            self._heading = None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append((" ".join("".join(self._cell).split()), self._is_th))
            self._cell = None
        elif tag == "table":
            self._depth -= 1
            if self._depth == 0 and self._rows is not None:
                rows = [r for r in self._rows if r]
                if rows:
                    self.items.append(("table", rows))
                self._rows = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._heading is not None:
            self._heading.append(data)


def page_tables(nb: Any) -> list[dict[str, Any]]:
    """Every table of a rendered notebook's HTML outputs: [{'heading', 'columns', 'rows'}], page order."""
    parser = _Tables()
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            frag = out.get("data", {}).get("text/html")
            if frag and 'class="wb-chart"' not in frag:
                parser.feed(frag if isinstance(frag, str) else "".join(frag))
    found, heading = [], ""
    for kind, value in parser.items:
        if kind == "heading":
            heading = value
            continue
        rows = value
        if all(is_th for _, is_th in rows[0]) and len(rows) > 1:
            columns, body = [c for c, _ in rows[0]], [[c for c, _ in r] for r in rows[1:]]
        else:
            columns, body = [f"{i + 1}" for i in range(max(len(r) for r in rows))], [[c for c, _ in r] for r in rows]
        found.append({"heading": heading, "columns": columns, "rows": body})
    return found


def save_page_tables(nb: Any, path: Path) -> None:
    """Write the page's tables (``page_tables``) to `path` as JSON."""
    Path(path).write_text(json.dumps(page_tables(nb), ensure_ascii=False), encoding="utf-8")


def _value(text: str) -> tuple[Any, str | None]:
    """A cell's value for Excel and its number format: numbers (amounts without the symbol), shares."""
    t = text.strip()
    if t in ("", "–", "-"):
        return None, None
    m = _NUM.match(t.replace("\u2009", ""))
    if not m or (m.group("sym").strip() and m.group("pct")):
        return text, None
    num = float(m.group("num").replace(",", ""))
    if m.group("sign") in ("-", "−"):
        num = -num
    if m.group("pct"):
        return round(num / 100.0, 12), "0.0%"
    decimals = len(m.group("num").split(".")[1]) if "." in m.group("num") else 0
    return num, ("#,##0" if decimals == 0 else "#,##0." + "0" * decimals)


def _sheet_name(text: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub(" ", text).strip()[:31] or "Sheet"
    name, i = base, 2
    while name.lower() in used:
        suffix = f" ({i})"
        name, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(name.lower())
    return name


def write_workbook(path: Path, pages: list[tuple[str, Path]], *, lang: str = "en") -> Path | None:
    """Write the tables of `pages` ([(notebook stem, tables JSON file)]) as one workbook at `path`; a sheet
    per table named '<NN> <heading>', its first row the headers. None (nothing written) without tables."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for stem, src in pages:
        try:
            tables = json.loads(Path(src).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for t in tables:
            title = t["heading"] or notebook_title(stem, lang)
            ws = wb.create_sheet(_sheet_name(f"{stem[:2]} {title}", used))
            ws.append(t["columns"])
            for c in ws[1]:
                c.font = Font(bold=True)
            for row in t["rows"]:
                values = [_value(v) for v in row]
                ws.append([v for v, _ in values])
                for cell, (v, fmt) in zip(ws[ws.max_row], values, strict=False):
                    if fmt:
                        cell.number_format = fmt
                    elif isinstance(v, str) and v.startswith("="):
                        cell.data_type = "s"  # text from the data is never a formula
            for i, col in enumerate(t["columns"], start=1):
                width = max([len(str(col)), *(len(str(r[i - 1])) for r in t["rows"] if i - 1 < len(r))][:200])
                ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(60, width + 2)
    if not wb.sheetnames:
        return None
    wb.save(path)
    return path
