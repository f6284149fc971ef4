"""Report HTML: executed notebooks to self-contained offline pages (no code, no widgets, no network)."""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path
from typing import Any

from workbench.i18n import label
from workbench.reports.params import COMPANY

__all__ = ["notebook_html", "notebook_title", "sanitize_html"]

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


def _strip_for_report(nb: Any) -> Any:
    """Drop what cannot live in a static page: widget views and state, stderr noise, empty outputs."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                continue
            data = out.get("data")
            if data is not None:
                if WIDGET_VIEW in data:
                    data.pop(WIDGET_VIEW)
                    data.pop("text/plain", None)  # "IntSlider(value=3)" is noise without the widget
                if not data:
                    continue
            kept.append(out)
        cell["outputs"] = kept
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


def notebook_html(nb: Any, *, title: str, lang: str = "en", nav_html: str = "") -> str:
    """Self-contained report HTML of an executed notebook: no code, no widgets, no network reference."""
    nb = _strip_for_report(nb)
    nb.metadata["title"] = title
    body, _ = _exporter(lang).from_notebook_node(nb, resources={"metadata": {"name": title}, "wb_nav": nav_html})
    return sanitize_html(_ensure_one_bundle(body))



def notebook_title(stem: str, lang: str) -> str:
    """Display title of a curated notebook: the i18n label 'nb_<stem>', else the stem made readable."""
    key = f"nb_{stem}"
    text = label(key, lang)
    return text if text != key else stem[3:].replace("_", " ").capitalize()



def _nav(pack: str, lang: str, quarter: str) -> str:
    """The small bar on top of every page: back to the pack index, quarter and region."""
    scope = label(COMPANY, lang) if pack == COMPANY else label(pack, lang)
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

