"""Scanners for rendered report pages: executable injections, raw column names, NaN and Python reprs.

Used by the report tests (and by any job's notebook test) on the HTML that reaches a reader:

    executable_injections(page) -> list of findings (empty: nothing from the data can run)
    chart_specs(page)           -> the Vega-Lite specs of the page's charts (parsed JSON)
    data_in_markup(page, token) -> where text planted in the data (carrying `token`) became markup, not text
    raw_text_problems(page)     -> snake_case headers, NaN / None cells, Python reprs in visible text
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

_BAD_TAGS = {"iframe", "object", "embed", "base", "form", "frame", "frameset", "applet"}
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "background", "poster"}
_BAD_URL = re.compile(r"^\s*(javascript|vbscript|data\s*:\s*text/html)", re.IGNORECASE)
_EMBED = re.compile(r"^\(function\(\)\{\s*var spec=(?P<spec>.*?), id=\"wb-chart-[0-9a-f]+\", tries=0;", re.DOTALL)
SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
MISSING_WORDS = {"nan", "none", "nat", "<na>", "null"}
_REPR = re.compile(
    r"np\.(float|int)\d*\(|numpy\.|Timestamp\(|Period\(|Timedelta\(|datetime\.date\(|dtype[:=]|<IPython\.|"
    r"DataFrame\(|Series\(|array\(\[|object at 0x|<chart:|\bNaN\b|\bNaT\b|<NA>|\bnan%|\bnan\b|"
    r"\{'[a-z_]+': "  # a dict's repr
)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.headers: list[str] = []
        self.cells: list[str] = []
        self.text: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []  # (tag, attribute, value) of every attribute with a value
        self.link_texts: set[str] = set()  # the text of every <a> element
        self._link: list[str] | None = None
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in _BAD_TAGS:
            self.findings.append(f"<{tag}> element")
        if tag == "meta" and str(a.get("http-equiv", "")).lower() == "refresh":
            self.findings.append("<meta http-equiv=refresh>")
        for name, value in attrs:
            if value:
                self.attrs.append((tag, name, value))
            if name.startswith("on"):
                self.findings.append(f"<{tag} {name}=...> event handler")
            if name in _URL_ATTRS and value and _BAD_URL.match(value):
                self.findings.append(f"<{tag} {name}={value[:40]}> script URL")
        if tag == "a":
            self._link = []
        if tag in ("script", "style", "th", "td"):
            self._stack.append((tag, a))
            self._buf = []

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if self._stack and self._stack[-1][0] == tag:
            _, a = self._stack.pop()
            text = "".join(self._buf)
            if tag == "script":
                self.scripts.append((a, text))
            elif tag == "th":
                self.headers.append(text.strip())
            elif tag == "td":
                self.cells.append(text.strip())
            self._buf = []
        if tag == "a" and self._link is not None:
            self.link_texts.add(_bare("".join(self._link).strip()))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link.append(data)
        in_code = any(t in ("script", "style") for t, _ in self._stack)
        if self._stack:
            self._buf.append(data)
        if not in_code:
            self.text.append(data)


def _parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


def _embed_spec(script: str) -> tuple[Any, str] | None:
    """(spec, the script without its spec) for the offline renderer's chart script, else None."""
    m = _EMBED.match(script.strip())
    if not m:
        return None
    raw = m.group("spec")
    if "<" in raw or ">" in raw:  # the renderer escapes them; raw ones could end the script element
        return None
    try:
        spec = json.loads(raw)
    except ValueError:
        return None
    return spec, script.replace(raw, "", 1)


def _spec_strings(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _spec_strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _spec_strings(v)]
    return [obj] if isinstance(obj, str) else []


def _spec_channels(obj: Any, name: str) -> bool:
    if isinstance(obj, dict):
        enc = obj.get("encoding")
        if isinstance(enc, dict) and name in enc:
            return True
        return any(_spec_channels(v, name) for v in obj.values())
    if isinstance(obj, list):
        return any(_spec_channels(v, name) for v in obj)
    return False


def spec_injections(spec: Any) -> list[str]:
    """What in a chart spec could run or navigate: href/url encodings, script URLs among its strings."""
    out = [f"chart encodes {ch}" for ch in ("href", "url") if _spec_channels(spec, ch)]
    out += [f"chart string {s[:40]!r}" for s in _spec_strings(spec) if _BAD_URL.match(s)]
    return out


def executable_injections(page: str) -> list[str]:
    """Everything in `page` that a browser would execute and that is not the report's own code:
    event-handler attributes, script URLs, embedded documents, scripts other than the vega bundle,
    the chart scripts and the page template's own (which never carry data)."""
    p = _parse(page)
    out = list(p.findings)
    for attrs, text in p.scripts:
        if attrs.get("src"):
            out.append(f"<script src={attrs['src']}>")
            continue
        if attrs.get("id") == "wb-vega-bundle":
            continue
        chart = _embed_spec(text)
        if chart is not None:
            spec, rest = chart
            out += spec_injections(spec)
            text = rest
        if "alert(" in text or "onerror" in text:
            out.append(f"script carrying data: {text[:80]!r}")
    return out


def _bare(url: str) -> str:
    """A URL as its autolink shows it: percent-escapes decoded, Markdown's backslashes dropped."""
    from urllib.parse import unquote

    return unquote(url).replace("\\", "")


def data_in_markup(page: str, token: str) -> list[str]:
    """Where a string planted in the data (each carries `token`) became markup instead of text: a URL, event
    handler or style attribute holding it (a link or image made from Markdown or HTML in the data), a script
    other than a chart's escaped spec holding it, or a template expression "{{7*7}}" evaluated next to it.
    A bare http(s) address in the text may become a link showing that address (Markdown's autolink): it runs
    nothing and hides nothing, so it is not a finding; any other link or source from the data is."""
    p = _parse(page)
    out = [f"<{tag} {name}={value[:60]!r}>" for tag, name, value in p.attrs
           if token in value and (name in _URL_ATTRS or name.startswith("on") or name == "style")
           and not (tag == "a" and name == "href" and re.match(r"https?://", value) and _bare(value) in p.link_texts)]
    for attrs, text in p.scripts:
        if attrs.get("id") == "wb-vega-bundle":
            continue
        chart = _embed_spec(text)
        rest = chart[1] if chart is not None else text
        if token in rest:
            out.append(f"script holding data: {rest[:60]!r}")
    visible = " ".join(p.text)
    out += [f"template evaluated: …{visible[max(0, m.start() - 20):m.end() + 20]!r}…"
            for m in re.finditer(r"49\s*" + re.escape(token), visible)]
    return out


def visible_tokens(page: str, token: str) -> set[str]:
    """The planted columns whose marker ("<token><column>") a reader sees as text on `page` (charts' data included)."""
    p = _parse(page)
    text = " ".join(p.text) + " ".join(s for spec in chart_specs(page) for s in _spec_strings(spec))
    return set(re.findall(re.escape(token) + r"([a-z_]+)", text))


def chart_specs(page: str) -> list[dict[str, Any]]:
    """The Vega-Lite specs of every chart on `page`."""
    return [c[0] for _, t in _parse(page).scripts if (c := _embed_spec(t)) is not None]


def _titles(obj: Any) -> list[str]:
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "title":
                if isinstance(v, str):
                    out.append(v)
                elif isinstance(v, list):
                    out += [x for x in v if isinstance(x, str)]
                elif isinstance(v, dict):
                    t = v.get("text")
                    out += [t] if isinstance(t, str) else [x for x in t or [] if isinstance(x, str)]
            elif k not in ("data", "datasets", "config"):
                out += _titles(v)
    elif isinstance(obj, list):
        for v in obj:
            out += _titles(v)
    return out


def chart_titles(spec: dict[str, Any]) -> list[str]:
    """Every title a reader sees on a chart: the chart's, its axes' and legends' (data left out)."""
    return [t for t in _titles(spec) if t]


def raw_text_problems(page: str) -> list[str]:
    """Snake_case table headers and chart titles, NaN/None/NaT cells, Python reprs in visible text."""
    p = _parse(page)
    out = [f"header {h!r}" for h in p.headers if SNAKE.match(h)]
    out += [f"cell {c!r}" for c in p.cells if c.lower() in MISSING_WORDS]
    visible = " ".join(p.text)
    out += [f"text …{visible[max(0, m.start() - 30):m.end() + 30]!r}…" for m in _REPR.finditer(visible)]
    for spec in chart_specs(page):
        for t in chart_titles(spec):
            if SNAKE.match(t) or t.lower() in MISSING_WORDS or _REPR.search(t):
                out.append(f"chart title {t!r}")
    return out
