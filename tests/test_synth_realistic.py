"""Tests of synth's realistic mode: its figures stay near the real Online Retail export's (see
docs/synth.md), the planted truth is complete, the easy mode is untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import synth


@pytest.fixture(scope="module")
def world():
    return synth.generate(partners=1200, months=24, seed=5, mode="realistic", skus=True)


def test_realistic_orders_look_like_a_real_export(world) -> None:
    o = world.tables["orders"]
    assert o["order_id"].is_unique  # multi-digit line numbers: orders hold 17 lines at the median
    last_year = o[o["order_date"] > pd.Timestamp("2025-09-30")]
    got = synth.calibration_stats(last_year)
    # real Online Retail (12 months): orders 2 (p90 8), gap 28 d, one-time 36%, returns 6.8% of value,
    # 35 SKUs per customer (p90 143), 17 lines per order
    assert 1 <= got["orders_median"] <= 4 and got["orders_p90"] <= 16
    assert 14 <= got["gap_days_median"] <= 45
    assert 0.2 <= got["one_time_share"] <= 0.5
    assert 0.03 <= got["returns_value_share"] <= 0.12 and 0.005 <= got["returns_line_share"] <= 0.04
    assert 20 <= got["skus_median"] <= 70 and got["skus_p90"] >= 80
    assert 10 <= got["lines_per_order_median"] <= 25
    assert got["basket_p90"] / got["basket_median"] > 2  # heavy tail
    # SKUs roll up to the planted lines
    skus = world.truth["skus"]
    assert skus["sku"].is_unique and set(skus["product_line"]) == set(synth.PRODUCT_LINES)
    assert set(o["product_line"]) <= set(skus["sku"])
    assert len(set(o["product_line"])) > 1000


def test_realistic_sizes_overlap_and_data_go_missing(world) -> None:
    tp = world.truth["partners"]
    size = np.log(tp["size"])
    by_seg = size.groupby(tp["segment"]).median()
    # heavy-tailed, overlapping sizes: the spread within a segment exceeds the gap between neighbours
    assert size.std() > 1.0
    assert (by_seg.max() - by_seg.min()) < 3 * size.groupby(tp["segment"]).std().mean()
    p = world.tables["partners"]
    assert 0.15 < p["contact_phone"].isna().mean() < 0.45
    easy = synth.generate(partners=300, months=24, seed=5)
    per_partner = len(world.tables["surveys"]) / len(p)
    assert per_partner < 0.6 * len(easy.tables["surveys"]) / len(easy.tables["partners"])
    assert world.params["mode"] == "realistic"


def test_easy_mode_is_the_default_and_unchanged() -> None:
    a = synth.generate(partners=150, months=12, seed=3)
    b = synth.generate(partners=150, months=12, seed=3, mode="easy")
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    with pytest.raises(ValueError, match="mode must be one of easy, realistic"):
        synth.generate(partners=10, mode="hard")


def test_realistic_demo_store_ingests_cleanly(tmp_path) -> None:
    import duckdb

    line = synth.build_demo_store(tmp_path / "real.duckdb", partners=120, months=12, seed=3, mode="realistic")
    assert "quarantined" not in line
    con = duckdb.connect(str(tmp_path / "real.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM truth.skus").fetchone()[0] == 6 * synth.REALISTIC["skus_per_line"]
    assert con.execute("SELECT value FROM truth.params WHERE key = 'mode'").fetchone()[0] == "realistic"
