"""The offline Altair renderer and the shared theme (workbench.charts.render)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from workbench.charts import render
from workbench.charts.render import BUNDLE_MARKER, CHART_FONT, enable_offline


@pytest.fixture
def fresh_renderer(monkeypatch: pytest.MonkeyPatch):
    """Enable the renderer as a new kernel would (bundle not yet sent); restore Altair's state after."""
    monkeypatch.setitem(render._STATE, "bundle_sent", False)
    before_renderer, before_theme = alt.renderers.active, alt.theme.active
    enable_offline()
    yield
    alt.renderers.enable(before_renderer)
    alt.theme.enable(before_theme)


def _html(chart: alt.Chart) -> str:
    bundle = chart._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    return data["text/html"]


EVIL = "</script><img src=x onerror=alert(1)>"


def _chart(title: str = "核心渠道月销售额") -> alt.Chart:
    df = pd.DataFrame({"name": ["核心", "成长", EVIL], "sales": [3, 2, 1]})
    return alt.Chart(df, title=title).mark_bar().encode(x="name:N", y="sales:Q")


def test_bundle_once_per_kernel_then_only_charts(fresh_renderer):
    first, second, third = _html(_chart()), _html(_chart()), _html(_chart())
    assert first.count(f'id="{BUNDLE_MARKER}"') == 1
    assert "if(!window.vegaEmbed)" in first
    assert BUNDLE_MARKER not in second and BUNDLE_MARKER not in third
    assert len(second) < len(first) / 10  # the ~0.9 MB bundle is not repeated
    for page in (first, second):
        assert page.count('class="wb-chart"') == 1
        assert "vegaEmbed(live, spec, {actions:false" in page


def test_no_network_reference_in_chart_html(fresh_renderer):
    page = _html(_chart())
    assert "cdn.jsdelivr" not in page and "<script src" not in page and "unpkg" not in page


def test_data_cannot_escape_the_script(fresh_renderer):
    page = _html(_chart())
    assert "</script><img" not in page
    assert "<img src=x" not in page
    assert "\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e" in page  # JSON-escaped in the spec
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # XML-escaped in the static SVG


def test_static_svg_fallback_inside_each_chart(fresh_renderer):
    page = _html(_chart())
    static = page.split('class="wb-chart-static">', 1)[1]
    assert static.startswith("<svg")
    assert "核心渠道月销售额" in static


def test_theme_sets_cjk_fonts(fresh_renderer):
    spec = _chart().to_dict()
    assert spec["config"]["font"] == CHART_FONT
    assert spec["config"]["axis"]["labelFont"] == CHART_FONT
    assert "WenQuanYi Micro Hei" in CHART_FONT and CHART_FONT.endswith("sans-serif")


def test_enable_offline_is_idempotent(fresh_renderer):
    enable_offline()
    enable_offline(svg_fallback=False)
    assert alt.renderers.active == "workbench_offline"
    page = _html(_chart())
    assert '<div class="wb-chart-static"></div>' in page
    enable_offline()


def test_bundle_built_once_then_read_from_the_user_cache(tmp_path, monkeypatch: pytest.MonkeyPatch):
    import vl_convert as vlc

    builds: list[int] = []

    def build() -> str:
        builds.append(1)
        return f"/* bundle {len(builds)} */ window.vegaEmbed = function(){{}};"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(vlc, "javascript_bundle", build)
    monkeypatch.setitem(render._STATE, "bundle", None)  # a new process
    first = render.javascript_bundle()
    monkeypatch.setitem(render._STATE, "bundle", None)  # a later process reads the file, builds nothing
    assert render.javascript_bundle() == first and len(builds) == 1
    (cached,) = (tmp_path / "workbench").glob("vega-bundle-*.js")
    cached.write_text("truncated", encoding="utf-8")  # a damaged cache is rebuilt and rewritten
    monkeypatch.setitem(render._STATE, "bundle", None)
    assert "bundle 2" in render.javascript_bundle() and len(builds) == 2
    assert "bundle 2" in cached.read_text(encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # an unwritable cache: still a bundle
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    monkeypatch.setitem(render._STATE, "bundle", None)
    assert "vegaEmbed" in render.javascript_bundle() and len(builds) == 3


@pytest.mark.parametrize("chart", ["forecast", "stl"])
def test_month_axes_speak_the_page_language(chart):
    """Chinese month charts label months 2025年1月 / 4月 / …, never vega's English month names."""
    import re

    import vl_convert as vlc

    from workbench.charts.retro import chart_forecast, chart_stl

    months = pd.period_range("2024-10", periods=24, freq="M")
    sales = pd.Series(range(1, 25), index=months, dtype=float)
    stl = pd.DataFrame({"month": months.to_timestamp(), "observed": 1.0, "trend": 1.0, "seasonal": 0.0, "resid": 0.0})

    def ticks(lang: str) -> list[str]:
        c = chart_forecast(sales, pd.DataFrame(), lang=lang) if chart == "forecast" else chart_stl(stl, lang=lang)
        return re.findall(r"<text[^>]*>([^<]*)</text>", vlc.vegalite_to_svg(c.to_dict()))

    zh = ticks("zh")
    assert {"2025年1月", "2026年1月", "4月", "7月", "10月"} <= set(zh), zh
    english = {"Jan", "January", "Feb", "February", "Apr", "April", "Jul", "July", "Oct", "October"}
    assert not english & set(zh), zh
    assert english & set(ticks("en"))  # English pages keep vega's month names
