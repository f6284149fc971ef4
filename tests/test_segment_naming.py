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
