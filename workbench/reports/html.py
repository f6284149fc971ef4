"""Report HTML: executed notebooks to self-contained offline pages (no code, no widgets, no network)."""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path
from typing import Any

from workbench.i18n import label
from workbench.present.reports import HEADLINE_MIME

__all__ = ["clean_fragment", "markdown_fragment", "notebook_html", "notebook_title", "sanitize_html", "tidy_tables"]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAME = "wb_report"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


_NET_TAG = re.compile(
    r"<(script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(src|href)\s*=\s*['\"]?\s*(https?:)?//[^>]*>"
    r"(\s*</\1>)?",
    re.IGNORECASE,
)
_NET_CSS = re.compile(r"@import\s+(url\()?\s*['\"]?(https?:)?//[^;]*;|url\(\s*['\"]?(https?:)?//[^)]*\)", re.IGNORECASE)


def sanitize_html(page: str) -> str:
    """Remove every element and CSS rule that would load something from the network."""
    page = _NET_TAG.sub("", page)
    return _NET_CSS.sub("", page)


# What a table, a Markdown note or a heading may contain on a page: no script, no event handler, no
# javascript: link, no embedded document. Everything else is shown as text (escaped), never dropped.
_SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
    "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small",
    "span", "strong", "style", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "u", "ul",
})
_SAFE_ATTRS = {"*": ["class", "id", "title", "style", "align", "colspan", "rowspan", "border"], "a": ["href", "title"]}
_SAFE_CSS = ["text-align", "color", "background-color", "font-weight", "font-style", "font-size", "white-space",
             "vertical-align", "width", "min-width", "max-width", "border", "border-bottom", "border-top",
             "padding", "margin", "opacity", "font-variant-numeric", "display"]
_TRACEBACK = "Traceback (most recent call last)"
_PAPERMILL_BANNER = "papermill-error-cell-tag"
_SNAKE_TH = re.compile(r"(<th\b[^>]*>)\s*([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\s*(</th>)")
_MISSING_TD = re.compile(r"(<td\b[^>]*>)\s*(?:NaN|nan|None|NaT|&lt;NA&gt;|&lt;NaT&gt;|<NA>)\s*(</td>)")


def clean_fragment(fragment: str) -> str:
    """An HTML fragment with everything executable removed: tags outside a small safe set (script, img,
    svg, iframe, ...) are shown as escaped text, event-handler attributes and javascript: links dropped."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    return bleach.clean(fragment, tags=_SAFE_TAGS, attributes=_SAFE_ATTRS, strip_comments=True,
                        css_sanitizer=CSSSanitizer(allowed_css_properties=_SAFE_CSS))


def markdown_fragment(text: str) -> str:
    """Markdown rendered to HTML and cleaned (raw HTML inside the Markdown is shown as text)."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return clean_fragment(markdown2html_mistune(text))


def tidy_tables(fragment: str, lang: str) -> str:
    """Last line of defence for tables: snake_case headers become their label (else 'Snake case'),
    cells reading NaN / None / NaT / <NA> become '–'."""
    from workbench.present import header

    fragment = _SNAKE_TH.sub(lambda m: m.group(1) + html.escape(header(m.group(2), lang)) + m.group(3), fragment)
    return _MISSING_TD.sub(lambda m: m.group(1) + "–" + m.group(2), fragment)


def _is_chart(fragment: str) -> bool:
    """True for the offline renderer's chart output (its data are escaped JSON and a vl-convert SVG)."""
    from workbench.charts.render import BUNDLE_MARKER

    return 'class="wb-chart"' in fragment or f'id="{BUNDLE_MARKER}"' in fragment


def _safe_output(out: Any, lang: str) -> Any | None:
    """One output as it may appear on a page (None: drop it): errors, stderr, tracebacks and widget
    views dropped; Markdown rendered and cleaned; HTML tables cleaned and tidied; charts kept."""
    kind = out.get("output_type")
    if kind == "error":
        return None
    if kind == "stream":
        text = "".join(out.get("text", ""))
        return None if out.get("name") == "stderr" or _TRACEBACK in text else out
    data = out.get("data")
    if data is None:
        return out
    if WIDGET_VIEW in data:
        data.pop(WIDGET_VIEW)
        data.pop("text/plain", None)  # "IntSlider(value=3)" is noise without the widget
    if HEADLINE_MIME in data:  # figures for the index, not for the page (nor their plain-text repr)
        data.pop(HEADLINE_MIME)
        data.pop("text/plain", None)
    if "text/markdown" in data:
        md = data.pop("text/markdown")
        data.pop("text/html", None)
        data["text/html"] = markdown_fragment(md if isinstance(md, str) else "".join(md))
    elif "text/html" in data:
        frag = data["text/html"] if isinstance(data["text/html"], str) else "".join(data["text/html"])
        if not _is_chart(frag):
            data["text/html"] = tidy_tables(clean_fragment(frag), lang)
    if set(data) == {"text/plain"}:
        text = data["text/plain"] if isinstance(data["text/plain"], str) else "".join(data["text/plain"])
        if _TRACEBACK in text:
            return None
    if "image/svg+xml" in data:
        svg = data["image/svg+xml"] if isinstance(data["image/svg+xml"], str) else "".join(data["image/svg+xml"])
        if re.search(r"<script|\son\w+\s*=|javascript:", svg, re.IGNORECASE):
            data.pop("image/svg+xml")
    return out if data else None


def _strip_for_report(nb: Any, lang: str = "en") -> Any:
    """What a static page may show: widget views and state, error outputs, tracebacks, stderr and
    papermill's error banner dropped; every Markdown and HTML output cleaned of executable markup."""
    nb.metadata.pop("widgets", None)
    nb.cells = [c for c in nb.cells if _PAPERMILL_BANNER not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = [o for o in (_safe_output(out, lang) for out in cell.get("outputs", [])) if o is not None]
    return nb


def _ensure_one_bundle(page: str) -> str:
    """Make sure a page with charts carries the vega bundle: add it to <head> if no output brought it."""
    from workbench.charts.render import BUNDLE_MARKER, vega_bundle_script

    if 'class="wb-chart"' in page and f'id="{BUNDLE_MARKER}"' not in page:
        page = page.replace("</head>", vega_bundle_script() + "\n</head>", 1)
    return page


_LOCAL = threading.local()


def _exporter(lang: str) -> Any:
    """One configured HTMLExporter per thread and language (building it costs ~0.3 s; not thread-safe)."""
    cache = _LOCAL.__dict__.setdefault("exporters", {})
    if lang not in cache:
        from nbconvert import HTMLExporter
        from traitlets.config import Config

        cfg = Config()
        cfg.TagRemovePreprocessor.enabled = True
        cfg.TagRemovePreprocessor.remove_cell_tags = ("remove-cell", "report-skip")
        cfg.TagRemovePreprocessor.remove_all_outputs_tags = ("remove-output",)
        cfg.TagRemovePreprocessor.remove_input_tags = ("remove-input",)
        exp = HTMLExporter(config=cfg, template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES_DIR)])
        exp.exclude_input = True
        exp.exclude_input_prompt = True
        exp.exclude_output_prompt = True
        exp.language_code = "zh-CN" if lang == "zh" else "en"
        exp.mathjax_url = ""
        cache[lang] = exp
    return cache[lang]


def notebook_html(nb: Any, *, title: str, lang: str = "en", nav_html: str = "", alert: str = "") -> str:
    """Self-contained report HTML of an executed notebook: no code, no widgets, no error output, no
    executable markup from the data, no network reference. `alert`: a plain sentence shown on top."""
    nb = _strip_for_report(nb, lang)
    nb.metadata["title"] = title
    resources = {"metadata": {"name": title}, "wb_nav": nav_html,
                 "wb_alert": f'<p class="wb-alert" role="alert">{html.escape(alert)}</p>' if alert else ""}
    body, _ = _exporter(lang).from_notebook_node(nb, resources=resources)
    return sanitize_html(_ensure_one_bundle(body))



def notebook_title(stem: str, lang: str) -> str:
    """Display title of a curated notebook: the i18n label 'nb_<stem>', else the stem made readable."""
    key = f"nb_{stem}"
    text = label(key, lang)
    return text if text != key else stem[3:].replace("_", " ").capitalize()



def _nav(where: str, lang: str, quarter: str) -> str:
    """The small bar on top of every page: back to the pack index, quarter and scope (`where`, as shown)."""
    scope = where
    return (f'<a href="index.html">&larr; {html.escape(label("rep_pack_index", lang))}</a>'
            f"{html.escape(label('quarter', lang))} {html.escape(quarter)} · "
            f"{html.escape(label('region', lang))} {html.escape(scope)}")



_PAGE_CSS = """
body{font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei","Segoe UI",Arial,sans-serif;
max-width:960px;margin:24px auto;padding:0 16px;color:#222;line-height:1.5}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
a{color:#1f5fa8}.failed{color:#b3261e;font-weight:bold}.ok{color:#2e7d32}.muted{color:#666;font-size:13px}
"""


def _page(title: str, body: str, lang: str) -> str:
    """A small standalone HTML page (no script, no external resource)."""
    code = "zh-CN" if lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{code}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head>"
            f"<body>{body}</body></html>\n")

