"""The offline Altair renderer and the shared chart theme (no network, live in JupyterLab and in HTML).

Altair's own renderers load vega from a CDN, or break with a second chart (``template="inline"``), or
are not rendered by JupyterLab 4 (``mimetype``). ``enable_offline()`` registers the
``workbench_offline`` renderer instead:

* the first chart of a kernel carries ``vl_convert.javascript_bundle()`` (vega, vega-lite and
  vega-embed, ~0.9 MB) inside ``if(!window.vegaEmbed){...}``, so a page holds it once;
* every chart is a ``<div class="wb-chart">`` holding a static SVG of the chart (drawn by vl-convert,
  shown when scripts do not run) and a script that waits for ``window.vegaEmbed`` and replaces the SVG
  with the interactive chart (``data-rendered`` becomes ``"vega"``, or ``"static"`` if it never comes);
* the spec is embedded as JSON with ``<``, ``>`` and ``&`` escaped, so data can never close the script.

In nbconvert HTML every output is its own element, but the outputs keep document order and their
inline scripts run in that order, so the bundle (first chart) is defined before later charts need it;
each chart still waits (event + polling) in case it is not. ``workbench.reports`` re-checks the page.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import altair as alt

__all__ = [
    "CHART_FONT",
    "BUNDLE_MARKER",
    "chart_theme",
    "enable_offline",
    "offline_html",
    "reset_page",
    "vega_bundle_script",
]

CHART_FONT = "'Microsoft YaHei','PingFang SC','Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif"
RENDERER_NAME = "workbench_offline"
THEME_NAME = "workbench"
BUNDLE_MARKER = "wb-vega-bundle"  # id of the bundle's <script>; reports count it
SVG_FALLBACK_MAX_BYTES = 400_000  # larger static SVGs are replaced by a short note

_STATE: dict[str, Any] = {"bundle_sent": False, "svg_fallback": True, "bundle": None}
_PALETTE = ["#1f5fa8", "#e07b39", "#3a9e6f", "#c8453c", "#7b5ea7", "#8c6d46", "#d36ba6", "#6f7782",
            "#b5b82f", "#2bb3c0"]


def chart_theme() -> dict[str, Any]:
    """The shared Altair theme (a Vega-Lite config): CJK-capable fonts, sizes and palette."""
    return {
        "config": {
            "font": CHART_FONT,
            "title": {"font": CHART_FONT, "fontSize": 15, "anchor": "start", "subtitleFont": CHART_FONT},
            "axis": {"labelFont": CHART_FONT, "titleFont": CHART_FONT, "labelFontSize": 11,
                     "titleFontSize": 12, "gridColor": "#e6e6e6"},
            "header": {"labelFont": CHART_FONT, "titleFont": CHART_FONT},
            "legend": {"labelFont": CHART_FONT, "titleFont": CHART_FONT},
            "mark": {"font": CHART_FONT, "color": _PALETTE[0]},
            "text": {"font": CHART_FONT},
            "range": {"category": _PALETTE},
            "view": {"continuousWidth": 520, "continuousHeight": 280, "stroke": None},
            "numberFormat": ",.4~g",
        }
    }


def _register_theme() -> None:
    """Register and enable the workbench theme (idempotent)."""
    if THEME_NAME not in alt.theme.names():
        alt.theme.register(THEME_NAME, enable=False)(chart_theme)
    alt.theme.enable(THEME_NAME)


def _script_json(obj: Any) -> str:
    """JSON safe to put inside a <script> element: <, >, & and line separators escaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _bundle_cache_file(version: str) -> Path:
    """Where a built bundle of vl-convert `version` is kept for later processes (the user's cache folder)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench" / f"vega-bundle-{version}.js"


def javascript_bundle() -> str:
    """``vl_convert.javascript_bundle()`` (~0.9 MB of JavaScript), built once per vl-convert version: vl-convert
    bundles it anew in every process (~2 s CPU, paid by every report kernel), so the first build is kept in the
    user's cache folder and read from there (written atomically; an unreadable cache is rebuilt)."""
    if _STATE.get("bundle") is None:
        import vl_convert as vlc

        cached = _bundle_cache_file(getattr(vlc, "__version__", "unknown"))
        try:
            text = cached.read_text(encoding="utf-8")
        except OSError:
            text = ""
        if "vegaEmbed" not in text:
            text = vlc.javascript_bundle()
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, cached)
            except OSError:  # a read-only home: build it in every process, as vl-convert does
                pass
        _STATE["bundle"] = text
    return _STATE["bundle"]


def vega_bundle_script() -> str:
    """The vega / vega-lite / vega-embed bundle as one guarded <script> (defines window.vegaEmbed once)."""
    bundle = javascript_bundle().replace("</script", "<\\/script")
    return (
        f'<script id="{BUNDLE_MARKER}">if(!window.vegaEmbed){{(function(){{\n{bundle}\n}})();}}'
        "window.dispatchEvent(new Event('wb-vega-ready'));</script>"
    )


def _static_svg(spec: dict[str, Any]) -> str:
    """A static SVG of the chart drawn by vl-convert, or a short note if that fails or is too large."""
    if not _STATE["svg_fallback"]:
        return ""
    try:
        import vl_convert as vlc

        svg = vlc.vegalite_to_svg(spec)
    except Exception:  # noqa: BLE001 - the fallback must never break the notebook
        return '<p class="wb-chart-note">(chart needs JavaScript)</p>'
    if len(svg.encode()) > SVG_FALLBACK_MAX_BYTES:
        return '<p class="wb-chart-note">(interactive chart; needs JavaScript)</p>'
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


_EMBED_JS = """<script>(function(){
var spec=%(spec)s, id=%(id)s, tries=0;
function draw(){
  var box=document.getElementById(id); if(!box){return;}
  var live=box.querySelector('.wb-chart-live');
  window.vegaEmbed(live, spec, {actions:false, renderer:'svg'}).then(function(){
    var st=box.querySelector('.wb-chart-static'); if(st){st.remove();}
    box.setAttribute('data-rendered','vega');
  }).catch(function(err){
    box.setAttribute('data-rendered','static'); box.setAttribute('data-error', String(err));
  });
}
function wait(){
  if(window.vegaEmbed){draw();return;}
  if(++tries>100){var b=document.getElementById(id); if(b){b.setAttribute('data-rendered','static');} return;}
  setTimeout(wait,100);
}
wait();
})();</script>"""


def offline_html(spec: dict[str, Any], *, with_bundle: bool = False) -> str:
    """The HTML of one chart: static SVG fallback, live container and the embed script."""
    div_id = "wb-chart-" + uuid.uuid4().hex[:12]
    parts = [vega_bundle_script()] if with_bundle else []
    parts.append(
        f'<div class="wb-chart" id="{div_id}" data-rendered="static">'
        f'<div class="wb-chart-static">{_static_svg(spec)}</div>'
        '<div class="wb-chart-live"></div></div>'
    )
    parts.append(_EMBED_JS % {"spec": _script_json(spec), "id": _script_json(div_id)})
    return "\n".join(parts)


def _renderer(spec: dict[str, Any], **_: Any) -> dict[str, str]:
    """Altair renderer: text/html with the bundle on the kernel's first chart; text/plain fallback."""
    html = offline_html(spec, with_bundle=not _STATE["bundle_sent"])
    _STATE["bundle_sent"] = True
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    return {"text/html": html, "text/plain": f"<chart: {title or spec.get('mark', 'chart')}>"}


def reset_page() -> None:
    """Forget that the bundle was sent: the next chart carries it again (a kernel reused for a new page)."""
    _STATE["bundle_sent"] = False


def enable_offline(*, svg_fallback: bool = True) -> None:
    """Register and enable the offline renderer and the workbench theme; call once per notebook.

    svg_fallback: embed a static SVG in each chart, shown where scripts do not run.
    """
    _STATE["svg_fallback"] = svg_fallback
    if RENDERER_NAME not in alt.renderers.names():
        alt.renderers.register(RENDERER_NAME, _renderer)
    alt.renderers.enable(RENDERER_NAME)
    _register_theme()
