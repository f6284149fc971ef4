"""Tests of workbench.segment.features: product mix, top lines plus "other", clr / log-spend mix features by
hand on the tiny store."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from test_segment_tiers import _tiny_store

from workbench import segment as sg

AS_OF = date(2026, 9, 30)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return _tiny_store(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")


def test_product_mix(tiny) -> None:
    mix = sg.product_mix(tiny, as_of=AS_OF).to_pandas()
    p1 = mix[mix.partner_id == "P1"].set_index("product_line")["share"]
    # phones 2000 − 500 = 1500, accessories 1000
    assert p1.to_dict() == pytest.approx({"accessories": 0.4, "phones": 0.6})
    wide = sg.product_mix_wide(mix).set_index("partner_id")
    assert wide.loc["P2"].to_dict() == {"mix_accessories": 0.0, "mix_phones": 1.0, "mix_smart_home": 0.0}
    assert "P4" not in wide.index


def test_top_lines_roll_the_rest_into_other(tiny) -> None:
    # network net in the window: phones 2000 − 500 + 1200 + 700 = 3400 > accessories 1000 > smart_home 400
    mix = sg.product_mix(tiny, as_of=AS_OF, top_lines=1).to_pandas()
    assert set(mix["product_line"]) == {"phones", sg.OTHER_LINE}
    p1 = mix[mix.partner_id == "P1"].set_index("product_line")
    assert p1["share"].to_dict() == pytest.approx({"phones": 0.6, sg.OTHER_LINE: 0.4})
    assert p1["order_lines"].to_dict() == {"phones": 1, sg.OTHER_LINE: 1}  # the return line is not counted
    p3 = mix[mix.partner_id == "P3"].set_index("product_line")["share"]
    assert p3.to_dict() == {sg.OTHER_LINE: 1.0}
    # the top lines are the network's, also when one region is asked for
    east = sg.product_mix(tiny, as_of=AS_OF, region="East", top_lines=1).to_pandas()
    assert set(east["partner_id"]) == {"P1", "P3"} and set(east["product_line"]) == {"phones", sg.OTHER_LINE}
    # with more top lines than lines, nothing is rolled up
    full = sg.product_mix(tiny, as_of=AS_OF, top_lines=10).to_pandas()
    assert sg.OTHER_LINE not in set(full["product_line"])


def test_clr_mix_features_by_hand(tiny) -> None:
    mix = sg.product_mix(tiny, as_of=AS_OF, top_lines=1).to_pandas()
    got = sg.mix_features(mix, mode="clr").set_index("partner_id")
    assert list(got.columns) == [f"clr_{sg.OTHER_LINE}", "clr_phones"]
    # P1 spends 1000 on other lines and 1500 on phones, no zero: clr = ∓ ln(1.5) / 2
    assert got.loc["P1"].tolist() == pytest.approx([-np.log(1.5) / 2, np.log(1.5) / 2])
    # P2 bought only phones on 12 order lines; the prior share of other lines is 1400 / 4800, so its zero
    # becomes t·√12 / (12 + √12) and phones the rest
    t = 1400 / 4800
    r = t * np.sqrt(12) / (12 + np.sqrt(12))
    assert got.loc["P2"].tolist() == pytest.approx([np.log(r / (1 - r)) / 2, -np.log(r / (1 - r)) / 2])
    assert np.allclose(got.sum(axis=1), 0.0)
    spend = sg.mix_features(mix, mode="log_spend").set_index("partner_id")
    assert spend.loc["P1"].tolist() == pytest.approx([np.log1p(1000), np.log1p(1500)])
    shares = sg.mix_features(mix, mode="shares").set_index("partner_id")
    assert shares.loc["P2"].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="mix must be one of"):
        sg.mix_features(mix, mode="raw")


def test_cluster_features_columns(tiny) -> None:
    feats = sg.cluster_features(tiny, as_of=AS_OF, top_lines=1)
    assert list(feats.columns) == ["partner_id", "net_sales_365d", "order_days_365d", "avg_order_value",
                                   "line_breadth", f"clr_{sg.OTHER_LINE}", "clr_phones"]
    # line breadth is measured on every line, before the roll-up: P1 0.6 / 0.4 → exp(entropy)
    p1 = feats.set_index("partner_id").loc["P1"]
    assert p1["line_breadth"] == pytest.approx(np.exp(-(0.6 * np.log(0.6) + 0.4 * np.log(0.4))))
    # a region's rows carry the network's columns and values
    east = sg.cluster_features(tiny, as_of=AS_OF, region="East", top_lines=1)
    pd.testing.assert_frame_equal(east, feats[feats["partner_id"].isin(["P1", "P3"])].reset_index(drop=True))
    plain = sg.cluster_features(tiny, as_of=AS_OF, mix=False)
    assert list(plain.columns) == ["partner_id", *sg.DEFAULT_CLUSTER_FEATURES]
