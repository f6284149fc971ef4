"""Tests of workbench.segment.features: product mix by hand on the tiny store."""

from __future__ import annotations

from datetime import date

import pytest

from workbench import segment as sg
from test_segment_tiers import _tiny_store

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
