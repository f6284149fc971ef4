"""Tests of workbench.segment.naming and the names of workbench.present.segment (en, zh)."""

from __future__ import annotations

import pandas as pd

from workbench import segment as sg
from workbench.present import segment as ps


def test_cluster_names_plain_words() -> None:
    z = pd.DataFrame(
        {"net_sales_365d": [1.5, -1.0, 0.1], "sales_trend": [-0.9, 0.2, 0.0], "mix_online_bundle": [0.0, 0.3, 2.0]}
    )
    names = sg.name_clusters(z)
    assert names.tolist() == ["high volume, declining orders", "low volume", "mostly online bundle"]
    assert ps.name_clusters(z, "zh")[0] == "高销量，订单下滑"


def test_notices_in_chinese_and_plain_names() -> None:
    from workbench.errors import NotEnoughData

    exc = NotEnoughData("No partner in <b>X</b> had positive net sales in the 12 months to 2026-09-30, so none is "
                        "placed in a segment; the tiers still show.")
    zh = ps.notice(exc, "zh")
    assert "无人归入分群" in zh and "<b>" not in zh and "&lt;b&gt;" in zh
    assert "none is placed in a segment" in ps.notice(exc, "en")
    assert ps.line_name(sg.OTHER_LINE, "zh") == "其他品类" and ps.line_name("85123A", "en") == "85123A"
    z = pd.DataFrame({"clr_phones": [1.2, -0.8], "clr_other_lines": [-0.9, 0.7]})
    assert sg.name_clusters(z).tolist() == ["mostly phones, little other lines", "little phones, mostly other lines"]
    assert ps.name_clusters(z, "zh").tolist() == ["以手机为主，少其他品类", "少手机，以其他品类为主"]
