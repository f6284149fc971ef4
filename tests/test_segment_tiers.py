"""Tests of workbench.segment.tiers: scorecard inputs and components by hand on a tiny store, config
errors as one sentence, the network-wide inputs cache."""

from __future__ import annotations

import copy
import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench import segment as sg
from workbench.errors import ConfigError
from workbench.paths import config_file

AS_OF = date(2026, 9, 30)

# ---------------------------------------------------------------------------------------------
# A tiny hand-written store
# ---------------------------------------------------------------------------------------------


def _tiny_store(path: Path):
    """Six partners (two outside the population), with orders on both sides of the window edges."""
    from workbench.store import connect, raw_connection

    con = connect(path)
    raw = raw_connection(con)
    partners = [
        ("P1", "甲 & 乙", "East", "distributor", "2023-09-30", None),
        ("P2", "B", "South", "dealer", "2025-09-30", None),
        ("P3", "C", "East", "retailer", "2026-06-30", None),
        ("P4", "D", "North", "ecommerce", "2024-09-30", None),
        ("P5", "E", "East", "dealer", "2024-01-01", "2026-06-30"),  # exited before as_of
        ("P6", "F", "East", "dealer", "2026-10-15", None),  # onboarded after as_of
    ]
    for pid, name, region, ch, onboard, exit_ in partners:
        raw.execute(
            "INSERT INTO partners (partner_id, name, region, channel_type, onboard_date, exit_date) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [pid, name, region, ch, onboard, exit_],
        )
    orders = [
        ("O1", "P1", "2026-01-10", "phones", 2000.0, False),
        ("O2", "P1", "2026-02-10", "accessories", 1000.0, False),
        ("O3", "P1", "2026-02-15", "phones", -500.0, True),
        ("O4", "P1", "2025-09-30", "phones", 9999.0, False),  # on the window's open edge: out
        ("O5", "P1", "2026-10-01", "phones", 8888.0, False),  # after as_of: out
        ("O6", "P3", "2026-07-05", "smart_home", 400.0, False),
        ("O7", "P5", "2026-01-05", "phones", 700.0, False),
    ]
    months = pd.date_range("2025-10-01", "2026-09-01", freq="MS")
    orders += [(f"O2{i:02d}", "P2", str((m + pd.Timedelta(days=4)).date()), "phones", 100.0, False)
               for i, m in enumerate(months)]
    for oid, pid, day, line, net, ret in orders:
        raw.execute(
            "INSERT INTO orders (order_id, partner_id, order_date, product_line, net_amount, is_return) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [oid, pid, day, line, net, ret],
        )
    for pid, month, outlets in [("P1", "2026-08-01", 30), ("P1", "2026-09-01", 40), ("P3", "2026-09-01", 10),
                                ("P1", "2026-10-01", 99)]:
        raw.execute("INSERT INTO coverage (partner_id, month, active_outlets) VALUES (?, ?, ?)", [pid, month, outlets])
    for tid, pid, day, passed in [("T1", "P1", "2026-03-01", True), ("T2", "P1", "2026-04-01", True),
                                  ("T3", "P1", "2026-05-01", False), ("T4", "P2", "2025-01-01", True)]:
        raw.execute("INSERT INTO trainings (training_id, partner_id, training_date, passed) VALUES (?, ?, ?, ?)",
                    [tid, pid, day, passed])
    return con


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return _tiny_store(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")


def test_scorecard_inputs_by_hand(tiny) -> None:
    got = sg.scorecard_inputs(tiny, as_of=AS_OF).to_pandas().set_index("partner_id")
    assert list(got.index) == ["P1", "P2", "P3", "P4"]
    assert got["net_sales_365d"].tolist() == [2500.0, 1200.0, 400.0, 0.0]
    assert got["order_days_365d"].tolist() == [2, 12, 1, 0]
    assert got["active_months_365d"].tolist() == [2, 12, 1, 0]
    assert got["product_breadth_365d"].tolist() == [2, 1, 1, 0]
    assert got["active_outlets"].tolist()[0] == 40.0 and got["active_outlets"].tolist()[2] == 10.0
    assert got["active_outlets"].isna().tolist() == [False, True, False, True]
    assert got["tenure_days"].tolist() == [1096, 365, 92, 730]
    assert got["trainings_passed_365d"].tolist() == [2, 0, 0, 0]
    east = sg.scorecard_inputs(tiny, as_of=AS_OF, region="East").to_pandas()
    assert east["partner_id"].tolist() == ["P1", "P3"]


def test_scorecard_components_by_hand(tiny) -> None:
    card = sg.tier_scorecard(sg.scorecard_inputs(tiny, as_of=AS_OF).to_pandas()).set_index("partner_id")
    # sales: percentile points of 2500 > 1200 > 400 > 0
    assert card["sales_score"].tolist() == pytest.approx([100, 66.67, 33.33, 0], abs=0.01)
    # coverage: outlets ranked among P1, P3 (40 > 10); P2, P4 fall back to breadth (1 > 0)
    assert card["coverage_score"].tolist() == pytest.approx([100, 100, 0, 0], abs=0.01)
    # cooperation = (tenure/1095 capped + trainings/3 capped + 2 × regularity percentile points) / 4
    # P1: (100 + 66.667 + 2×66.667)/4, P2: (33.333 + 0 + 2×100)/4, P3: (8.402 + 0 + 2×33.333)/4, P4: 66.667/4
    assert card["cooperation_score"].tolist() == pytest.approx([75.0, 58.33, 18.77, 16.67], abs=0.01)
    # total = 0.5 sales + 0.25 coverage + 0.25 cooperation
    assert card["score"].tolist() == pytest.approx([93.75, 72.92, 21.36, 4.17], abs=0.01)
    # percentile cut-offs: 80th percentile of scores = 81.25, 40th = 31.67
    assert card["tier"].tolist() == ["core", "growth", "pilot", "pilot"]
    assert card.loc["P1", "playbook"] == "dedicated training; profit sharing; priority resources"
    tiers = sg.partner_tiers(tiny, as_of=AS_OF, region="East")
    assert tiers.to_dict("list") == {"partner_id": ["P1", "P3"], "tier": ["core", "pilot"]}


def test_absolute_cutoffs(tiny) -> None:
    cfg = yaml.safe_load(config_file("tiers.yaml").read_text(encoding="utf-8"))
    cfg["cutoffs"] = {"method": "absolute", "core": 95, "growth": 20}
    card = sg.tier_scorecard(sg.scorecard_inputs(tiny, as_of=AS_OF).to_pandas(), cfg)
    assert card["tier"].tolist() == ["growth", "growth", "growth", "pilot"]


# ---------------------------------------------------------------------------------------------
# Config errors: one sentence naming the field
# ---------------------------------------------------------------------------------------------


def _cfg() -> dict:
    return yaml.safe_load(config_file("tiers.yaml").read_text(encoding="utf-8"))


def _set(path: list, value):
    def edit(cfg: dict) -> dict:
        node = cfg
        for key in path[:-1]:
            node = node[key]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return cfg

    return edit


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (_set(["components", "sales", "weight"], -1), "components: sales: weight must be a number ≥ 0"),
        (_set(["components", "sales", "weight"], "heavy"), "components: sales: weight must be a number"),
        (_set(["cutoffs", "typo"], 3), "cutoffs has unknown field 'typo'"),
        (_set(["cutoffs", "method"], "median"), "cutoffs: method must be one of percentile, absolute"),
        (_set(["cutoffs", "core"], 30), "cutoffs: core (30.0) must be greater than growth (40.0)"),
        (_set(["cutoffs", "growth"], 140), "cutoffs: growth must lie between 0 and 100"),
        (_set(["playbook", "pilot"], KeyError), "playbook is missing the tier 'pilot'"),
        (_set(["playbook_zh", "vip"], ["专属"]), "playbook_zh has unknown tier 'vip'"),
        (_set(["components", "cooperation", "inputs", 0, "cap"], 0), "inputs[0]: cap must be a number > 0"),
        (_set(["cutoffs"], KeyError), "is missing the required field 'cutoffs'"),
    ],
)
def test_bad_config_is_one_sentence(edit, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        sg.load_tier_config(edit(copy.deepcopy(_cfg())))
    msg = str(info.value)
    assert fragment in msg
    assert "\n" not in msg and msg.endswith(".")


def test_unknown_input_column_names_it(tiny) -> None:
    cfg = _cfg()
    cfg["components"]["sales"]["inputs"][0]["column"] = "revenue_ytd"
    with pytest.raises(ConfigError, match=r"components: sales: inputs\[0\] names the column 'revenue_ytd'"):
        sg.score_partners(sg.scorecard_inputs(tiny, as_of=AS_OF).to_pandas(), cfg)


def test_bad_yaml_file(tmp_path: Path) -> None:
    bad = tmp_path / "tiers.yaml"
    bad.write_text("cutoffs: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        sg.load_tier_config(bad)


def test_network_inputs_are_cached_per_store_contents(demo_db, tmp_path):
    """Network-wide tier inputs are computed once per store and date, handed out as copies, and
    recomputed when the store's file changes."""
    import shutil

    import duckdb
    import ibis

    from workbench import store

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(demo_db, db)
    con = store.connect(db, read_only=True)
    first = sg.network_inputs(con, as_of="2026-06-30")
    pd.testing.assert_frame_equal(first, sg.scorecard_inputs(con, as_of="2026-06-30").to_pandas())
    first.loc[:, "net_sales_365d"] = -1.0  # a caller changing its copy does not change the cache
    again = sg.network_inputs(con, as_of="2026-06-30")
    assert (again["net_sales_365d"] >= 0).all()
    con.disconnect()

    raw = duckdb.connect(str(db))
    pid = raw.execute("SELECT partner_id FROM orders ORDER BY order_date DESC LIMIT 1").fetchone()[0]
    raw.execute("DELETE FROM orders WHERE partner_id = ?", [pid])
    raw.execute("CHECKPOINT")
    raw.close()
    con = store.connect(db, read_only=True)
    after = sg.network_inputs(con, as_of="2026-06-30")
    pd.testing.assert_frame_equal(after, sg.scorecard_inputs(con, as_of="2026-06-30").to_pandas())
    assert not after.equals(again)
    assert store.fingerprint(ibis.duckdb.connect()) is None  # in-memory: never cached


def test_network_scorecard_is_rescored_when_tiers_yaml_changes(demo_db, tmp_path, monkeypatch):
    """The default-config scorecard is cached per store, date and tiers.yaml version: equal to scoring
    the inputs afresh, a caller's change does not reach the cache, and an edited tiers.yaml is used."""
    from workbench import store
    from workbench.segment import tiers as tiers_mod

    cfg_path = tmp_path / "tiers.yaml"
    cfg_path.write_text(config_file("tiers.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(tiers_mod, "config_file", lambda name: cfg_path)
    con = store.connect(demo_db, read_only=True)
    card = sg.network_scorecard(con, as_of="2026-06-30")
    fresh = sg.tier_scorecard(sg.network_inputs(con, as_of="2026-06-30"), cfg_path)
    pd.testing.assert_frame_equal(card, fresh)
    card.loc[:, "tier"] = "pilot"
    assert sg.network_scorecard(con, as_of="2026-06-30")["tier"].eq("core").any()
    raw = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))  # everyone scoring above 0 is core
    raw["cutoffs"] = {**raw["cutoffs"], "method": "absolute", "core": 0.001, "growth": 0}
    cfg_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    os.utime(cfg_path, ns=(1, 2))  # a different version even within the file system's clock resolution
    assert sg.network_scorecard(con, as_of="2026-06-30")["tier"].eq("core").all()
    assert sg.partner_tiers(con, as_of="2026-06-30")["tier"].eq("core").all()
    con.disconnect()
