"""Tests for workbench.incentives: from the store: CLI, partner attributes, notebook 04."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _incentives_cases import CONFIG

from workbench import incentives as inc

# ---- store, command line and notebook --------------------------------------------------------------

def test_cli_whatif_writes_per_partner_output(demo_db, tmp_path, capsys):
    from workbench.cli import main

    out = tmp_path / "whatif.csv"
    code = main(["whatif", str(CONFIG / "synthetic_current.yaml"), "--db", str(demo_db), "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out)
    for col in ("partner_id", "expected_payout_cny", "payout_low_cny", "payout_high_cny",
                "incremental_sales_cny", "incremental_sales_low_cny", "incremental_sales_high_cny"):
        assert col in table.columns
    assert len(table) > 100 and table["partner_id"].is_unique
    assert (table["payout_low_cny"] <= table["expected_payout_cny"] + 0.01).all()
    assert "contact_phone" not in table.columns and "contact_name" not in table.columns
    line = capsys.readouterr().out.splitlines()[0]
    assert "expected cost" in line and "P(ROI > 0)" in line


def test_cli_rejects_a_malformed_program_before_running(demo_db, tmp_path, capsys):
    from workbench.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvolume_rebate:\n  tiers:\n    - {threshold_cny: 0, rate_pct: 150}\n", encoding="utf-8")
    out = tmp_path / "never.csv"
    assert main(["whatif", str(bad), "--db", str(demo_db), "--out", str(out)]) == 2
    assert "rate_pct" in capsys.readouterr().err and not out.exists()


def test_partner_attributes_match_the_store_and_honour_the_region(demo_db):
    import duckdb

    import workbench as wb

    con = wb.store.connect(demo_db, read_only=True)
    attrs = inc.partner_attributes(con, as_of="2026-08-15", region="East",
                                   new_product_lines={"push": ("smart_home",)}).set_index("partner_id")
    raw = duckdb.connect(str(demo_db), read_only=True)
    east = {r[0] for r in raw.execute("SELECT partner_id FROM partners WHERE region = 'East'").fetchall()}
    assert set(attrs.index) <= east and set(attrs["region"]) == {"East"}
    trained = dict(raw.execute("""SELECT partner_id, count(*) FROM trainings WHERE passed
        AND training_date BETWEEN DATE '2025-08-16' AND DATE '2026-08-15' GROUP BY 1""").fetchall())
    sat = dict(raw.execute("""SELECT partner_id, avg(satisfaction) FROM surveys
        WHERE survey_date BETWEEN DATE '2026-02-17' AND DATE '2026-08-15' GROUP BY 1""").fetchall())
    # new-product sales: the last complete quarter before 2026-08-15 is 2026Q2
    smart = dict(raw.execute("""SELECT partner_id, sum(net_amount)::DOUBLE FROM orders WHERE product_line = 'smart_home'
        AND order_date BETWEEN DATE '2026-04-01' AND DATE '2026-06-30' GROUP BY 1""").fetchall())
    for pid, row in attrs.iterrows():
        assert row["trainings_passed"] == trained.get(pid, 0)
        assert row["satisfaction"] == pytest.approx(sat[pid]) if pid in sat else np.isnan(row["satisfaction"])
        assert row["new_product_sales_cny__push"] == pytest.approx(smart.get(pid, 0.0))
    assert attrs["tier"].isin(["core", "growth", "pilot"]).all()


def test_without_a_ledger_the_response_is_the_stated_prior_and_payouts_stay_exact(realstore):
    # orders_only: partners and orders, no incentive ledger. The response is the program's prior
    # (labelled assumed), the payout of every draw is the exact engine's on that draw's sales, and the
    # optimizer still runs within its budget.
    import workbench as wb
    from workbench.present import incentives as words

    con = wb.store.connect(realstore("orders_only"), read_only=True)
    prog = inc.program_from_dict({"name": "p", "volume_rebate": {"tiers": [{"threshold": 0, "rate_pct": 2.0}]},
                                  "assumptions": {"prior_response_per_pp": 0.025, "prior_response_se": 0.01}})
    assert inc.ledger_rows(con) == 0
    base = inc.simulation_base(con, as_of="2026-09-30", draws=50, seed=1, programs=(prog,))
    m = base.model
    assert (m.source_, m.reason_, m.beta_, m.se_) == ("assumed", "no_ledger", 0.025, 0.01)
    assert m.n_obs_ == 0 and 0 < m.sigma_ < 2  # sigma is measured from the order history
    res = inc.simulate(base, prog, keep_partner_draws=True)
    assert np.allclose(res.partner_payout_cny, 0.02 * res.partner_sales_cny, rtol=1e-5)
    _, fig = inc.optimize_budget(base, inc.load_program(CONFIG / "tiered_retroactive.yaml"), budget_cny=50_000,
                                 draws=50, step_pct=1.0)
    assert fig["expected_cost_cny"] <= 50_000 + 1e-6
    assert "Assumed, not estimated from your data" in words.response_sentence(m, "en")
    assert "假定值，并非根据您的数据估计" in words.response_sentence(m, "zh")
    figures = inc.summary_figures(prog, res, base)
    assert "(assumed, not estimated from your data)" in words.summary_line(figures, "en", currency="GBP")
    assert "£" in words.summary_line(figures, "en", currency="GBP")


def test_a_store_without_history_for_any_complete_quarter_is_one_sentence(tmp_path):
    # Orders only in an incomplete quarter: nothing to simulate, a NotEnoughData sentence (never a traceback).
    import ibis

    from workbench.errors import NotEnoughData

    con = ibis.duckdb.connect()
    con.create_table("orders", pd.DataFrame({"partner_id": ["A"], "order_date": [pd.Timestamp("2026-08-01").date()],
                                             "net_amount": [10.0]}))
    with pytest.raises(NotEnoughData):
        inc.simulation_base(con, as_of="2026-08-15", draws=5)


@pytest.mark.slow
@pytest.mark.parametrize("store", ["orders_only", "three_months", "one_day"])
def test_notebook_renders_on_degenerate_stores(realstore, tmp_path, store):
    import papermill as pm

    from workbench.reports import register_engine

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "04_incentive_whatif.ipynb"
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(nb), str(out), parameters={"db": str(realstore(store)), "quarter": "2026Q3",
                                                        "region": "all", "lang": "en"},
                        kernel_name="python3", cwd=str(nb.parent), progress_bar=False,
                        engine_name=register_engine(), execution_timeout=600)
    import json

    cells = json.loads(out.read_text(encoding="utf-8"))["cells"]
    outputs = [o for c in cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error" or o.get("name") == "stderr"]
    markdown = " ".join("".join(o["data"]["text/markdown"]) for o in outputs if "text/markdown" in o.get("data", {}))
    tables = " ".join("".join(o["data"]["text/html"]) for o in outputs
                      if "text/html" in o.get("data", {}) and "<table" in "".join(o["data"]["text/html"])[:40])
    assert "_cny" not in markdown.replace("```yaml", "") and "_cny" not in tables
    if store == "orders_only":
        assert "Assumed, not estimated from your data" in markdown


def test_this_jobs_notices_read_in_chinese():
    from workbench.errors import NotEnoughData
    from workbench.present import incentives as words

    zh = words.notice(NotEnoughData("The store has no incentive ledger, so there is nothing to audit."), "zh")
    assert "返利台账" in zh and "ledger" not in zh
    assert "ledger" in words.notice(NotEnoughData("The store has no incentive ledger, so there is nothing to audit."), "en")


def test_a_region_with_only_returns_is_one_sentence_without_warnings(realstore):
    import warnings

    import workbench as wb
    from tests.realstores import RETURNS_ONLY_REGION
    from workbench.errors import NotEnoughData

    con = wb.store.connect(realstore("returns_only_region"), read_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(NotEnoughData, match="No partner had sales"):
            inc.simulation_base(con, as_of="2026-09-30", region=RETURNS_ONLY_REGION, draws=10)
