"""Tests of workbench.segment.migration on hand-written examples."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from workbench import segment as sg
from workbench.paths import config_file


def _cfg() -> dict:
    return yaml.safe_load(config_file("tiers.yaml").read_text(encoding="utf-8"))


def test_migration_by_hand() -> None:
    before = pd.DataFrame({"partner_id": list("ABCDEG"), "tier": ["core", "core", "growth", "pilot", "pilot", "core"]})
    after = pd.DataFrame({"partner_id": list("ABCDF"), "tier": ["core", "growth", "core", "growth", "pilot"]})
    mig = sg.tier_migration(before, after)
    counts = sg.migration_matrix(mig)
    assert counts.loc["core"].tolist() == [1, 1, 0, 1]  # to core, growth, pilot, gone
    assert counts.loc["growth"].tolist() == [1, 0, 0, 0]
    assert counts.loc["pilot"].tolist() == [0, 1, 0, 1]
    assert counts.loc["new"].tolist() == [0, 0, 1, 0]
    assert int(counts.to_numpy().sum()) == 7
    shares = sg.migration_matrix(mig, value="share")
    assert shares.loc["core"].tolist() == pytest.approx([1 / 3, 1 / 3, 0, 1 / 3])
    assert shares.loc["pilot"].tolist() == pytest.approx([0, 0.5, 0, 0.5])
    fell = sg.fell_out_of_core(before, after)
    assert fell.to_dict("list") == {"partner_id": ["B", "G"], "tier_to": ["growth", "gone"]}


def test_ready_for_promotion_by_hand() -> None:
    cfg = _cfg()
    cfg["cutoffs"] = {"method": "absolute", "core": 70, "growth": 40}
    cfg["promotion"] = {"margin": 10, "min_gain": 5}
    after = pd.DataFrame({
        "partner_id": ["A", "F", "H", "I", "J"],
        "tier": ["core", "pilot", "pilot", "pilot", "pilot"],
        "score": [80.0, 35.0, 33.0, 32.0, 20.0],
    })
    before = pd.DataFrame({"partner_id": ["A", "H", "I", "J"], "score": [70.0, 25.0, 30.0, 5.0]})
    # F is new (no gain known), I gained only 2, J is 20 points short: only H qualifies
    ready = sg.ready_for_promotion(before, after, cfg)
    assert ready.to_dict("list") == {"partner_id": ["H"], "score": [33.0], "score_gain": [8.0], "gap": [7.0]}
