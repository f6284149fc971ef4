"""Tests for workbench.incentives: payouts on hand-computed cases, config errors, response, simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench import incentives as inc
from workbench.errors import ConfigError, WorkbenchError

CONFIG = Path(__file__).resolve().parents[1] / "config" / "incentives"

# Three volume tiers used by most hand cases: 0 % below 100k, 2 % from 100k, 3 % from 200k, 5 % from 500k.
TIERS = [{"threshold_cny": 100_000, "rate_pct": 2.0},
         {"threshold_cny": 200_000, "rate_pct": 3.0},
         {"threshold_cny": 500_000, "rate_pct": 5.0}]


def program(**overrides) -> inc.Program:
    data = {"name": "test", "volume_rebate": {"tiers": TIERS, "mode": "retroactive"}}
    data.update(overrides)
    return inc.program_from_dict(data, where="test.yaml")


def partners(sales, **cols) -> pd.DataFrame:
    frame = pd.DataFrame({"partner_id": [f"P{i}" for i in range(len(sales))], "net_sales_cny": sales})
    for k, v in cols.items():
        frame[k] = v
    return frame


# ---- payout engine: hand-computed cases -------------------------------------------------------

def test_retroactive_tier_jumps():
    # 99,999.99 is below the first threshold → 0; exactly 100,000 → 2 % of all = 2,000;
    # 199,999 → 2 % = 3,999.98; 200,000 → 3 % of everything = 6,000 (jump of 2,000.02);
    # 600,000 → 5 % of all = 30,000.
    out = inc.compute_payouts(program(), partners([99_999.99, 100_000, 199_999, 200_000, 600_000]))
    assert out["payout_cny"].tolist() == [0.0, 2_000.0, 3_999.98, 6_000.0, 30_000.0]


def test_marginal_bands():
    # 600,000 marginal: 2 % × 100k (100k-200k) + 3 % × 300k (200k-500k) + 5 % × 100k = 2,000 + 9,000 + 5,000.
    # 150,000 → 2 % × 50k = 1,000; 250,000 → 2,000 + 3 % × 50k = 3,500; 50,000 → 0.
    p = program(volume_rebate={"tiers": TIERS, "mode": "marginal"})
    out = inc.compute_payouts(p, partners([600_000, 150_000, 250_000, 50_000]))
    assert out["rebate_cny"].tolist() == [16_000.0, 1_000.0, 3_500.0, 0.0]


def test_returns_reduce_the_base_and_negative_net_earns_nothing():
    # 230k gross with 40k of returns → net 190k: tier 1 (2 %) → 3,800 instead of 3 % × 230k = 6,900.
    # Net negative (more returns than sales) → 0, never a negative payout.
    out = inc.compute_payouts(program(), partners([230_000 - 40_000, -5_000]))
    assert out["payout_cny"].tolist() == [3_800.0, 0.0]


def test_per_partner_cap_and_total_cap_proration():
    # Uncapped: 30,000 (600k × 5 %), 6,000 (200k × 3 %), 2,000 (100k × 2 %).
    # Per-partner cap 20,000 → 20,000, 6,000, 2,000 = 28,000; total cap 14,000 → × 0.5 each.
    p = program(caps={"per_partner_cny": 20_000, "total_cny": 14_000})
    out = inc.compute_payouts(p, partners([600_000, 200_000, 100_000]))
    assert out["payout_uncapped_cny"].tolist() == [30_000.0, 6_000.0, 2_000.0]
    assert out["payout_cny"].tolist() == [10_000.0, 3_000.0, 1_000.0]


def test_total_cap_rounds_to_the_exact_cent():
    # 3 partners of 3,000 each (100k... no: 150k × 2 % = 3,000), total cap 1,000 → 333.33 + 333.33 + 333.34.
    p = program(caps={"total_cny": 1_000})
    out = inc.compute_payouts(p, partners([150_000, 150_000, 150_000]))
    assert sorted(out["payout_cny"].tolist()) == [333.33, 333.33, 333.34]
    assert round(out["payout_cny"].sum(), 2) == 1_000.0


def test_ineligible_partners_get_nothing():
    p = program(eligibility={"tiers": ["core", "growth"], "regions": ["East"], "channel_types": []})
    frame = partners([300_000, 300_000, 300_000], tier=["core", "pilot", "growth"],
                     region=["East", "East", "South"])
    out = inc.compute_payouts(p, frame)
    assert out["eligible"].tolist() == [True, False, False]
    assert out["payout_cny"].tolist() == [9_000.0, 0.0, 0.0]


def test_growth_bonus_and_awards():
    # Growth bonus 5 % of the increment when growth ≥ 10 %: 330k vs 300k (+10 %) → 5 % × 30k = 1,500;
    # 320k vs 300k (+6.7 %) → 0; no last-year sales → 0.
    # Awards: 2,000 for ≥ 2 trainings passed, 1,000 for satisfaction ≥ 80.
    p = program(
        volume_rebate=None,
        growth_bonus={"min_growth_pct": 10, "rate_pct": 5},
        awards=[{"name": "trained", "metric": "trainings_passed", "min_value": 2, "amount_cny": 2_000},
                {"name": "happy", "metric": "satisfaction", "min_value": 80, "amount_cny": 1_000}],
    )
    frame = partners([330_000, 320_000, 100_000], last_year_sales_cny=[300_000, 300_000, 0],
                     trainings_passed=[2, 1, 5], satisfaction=[79.9, 80, np.nan])
    out = inc.compute_payouts(p, frame)
    assert out["growth_bonus_cny"].tolist() == [1_500.0, 0.0, 0.0]
    assert out["awards_cny"].tolist() == [2_000.0, 1_000.0, 2_000.0]
    assert out["payout_cny"].tolist() == [3_500.0, 1_000.0, 2_000.0]


def test_payment_date_follows_delay():
    out = inc.compute_payouts(program(payment_delay_days=45), partners([100_000]), period_end=pd.Timestamp("2026-09-30"))
    assert out["payment_date"].iloc[0] == pd.Timestamp("2026-11-14")


def test_vectorized_engine_matches_on_a_matrix():
    s = np.array([[50_000, 150_000], [250_000, 700_000]], dtype=float)
    got = inc.volume_rebate_cny(s, [100_000, 200_000, 500_000], [2, 3, 5], "marginal")
    assert np.allclose(got, [[0, 1_000], [3_500, 2_000 + 9_000 + 10_000]])


# ---- config errors ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"volume_rebate": {"tiers": [{"threshold_cny": 200_000, "rate_pct": 2}, {"threshold_cny": 100_000, "rate_pct": 3}]}},
         "tiers[1]: threshold_cny"),
        ({"volume_rebate": {"tiers": [{"threshold_cny": 0, "rate_pct": 120}]}}, "tiers[0]: rate_pct"),
        ({"rebate_rate": 3}, "rebate_rate"),
        ({"volume_rebate": {"tiers": TIERS, "mode": "sideways"}}, "mode"),
        ({"caps": {"total_cny": -1}}, "total_cny"),
        ({"growth_bonus": {"min_growth_pct": 10, "rate_pct": 101}}, "growth_bonus: rate_pct"),
        ({"assumptions": {"margin_pct": 130}}, "margin_pct"),
    ],
)
def test_malformed_program_is_one_sentence_naming_the_field(tmp_path, change, field):
    data = {"name": "bad", "volume_rebate": {"tiers": TIERS}}
    data.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        inc.load_program(path)
    message = str(err.value)
    assert field in message and "bad.yaml" in message
    assert message.count(". ") == 0 and "\n" not in message


def test_shipped_programs_load():
    files = sorted(CONFIG.glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        assert inc.load_program(path).name


# ---- simulation engine --------------------------------------------------------------------------

def sim_partners(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = np.exp(rng.normal(np.log(250_000), 0.9, n))
    return pd.DataFrame({
        "partner_id": [f"P{i:05d}" for i in range(n)],
        "baseline_sales_cny": base,
        "last_year_sales_cny": base * np.exp(rng.normal(-0.05, 0.2, n)),
        "tier": rng.choice(["core", "growth", "pilot"], n),
        "region": rng.choice(["East", "South", "North"], n),
        "channel_type": rng.choice(["dealer", "retailer"], n),
        "tenure_months": rng.integers(0, 60, n).astype(float),
        "trainings_passed": rng.poisson(1.0, n).astype(float),
        "satisfaction": rng.uniform(50, 100, n),
        "customer_feedback": rng.uniform(0, 10, n),
        "new_product_sales_cny__smart_home_push": base * rng.uniform(0, 0.4, n),
    })


def test_simulation_matches_closed_form_without_noise():
    # Flat 3 %, beta 0.04 per pp, no noise: sales = b·e^{0.12}; cost = 3 % of that;
    # incremental sales = b·(e^{0.12} − 1); ROI = (0.3·(e^{0.12} − 1) − 0.03·e^{0.12}) / (0.03·e^{0.12}).
    frame = sim_partners(50)
    base = inc.prepare_simulation(frame, beta=0.04, beta_se=0.0, sigma=0.0, draws=5, seed=1)
    p = program(volume_rebate={"tiers": [{"threshold_cny": 0, "rate_pct": 3.0}]})
    res = inc.simulate(base, p, margin_pct=30)
    b = frame["baseline_sales_cny"].sum()
    lift = np.exp(0.04 * 3.0)
    s = res.summary("all").iloc[0]
    assert s["incremental_sales_cny"] == pytest.approx(b * (lift - 1), rel=1e-5)
    assert s["cost_cny"] == pytest.approx(0.03 * b * lift, rel=1e-5)
    assert s["roi"] == pytest.approx((0.3 * (lift - 1) - 0.03 * lift) / (0.03 * lift), rel=1e-4)


@pytest.mark.parametrize("mode", ["retroactive", "marginal"])
@pytest.mark.parametrize("tiers", [["core", "growth"], []])
def test_simulated_payout_equals_the_exact_engine_when_sales_do_not_move(mode, tiers):
    # beta = 0 and no noise: every draw's payout must equal compute_payouts on baseline sales,
    # through tiers, growth bonus, awards, eligibility and both caps.
    frame = sim_partners(200)
    p = program(
        volume_rebate={"tiers": [{"threshold_cny": 0, "rate_pct": 1.0}, *TIERS], "mode": mode},
        growth_bonus={"min_growth_pct": 5, "rate_pct": 4},
        awards=[{"name": "trained", "metric": "trainings_passed", "min_value": 2, "amount_cny": 2_000}],
        eligibility={"tiers": tiers},
        caps={"per_partner_cny": 20_000, "total_cny": 600_000},
        assumptions={"pull_share": 0.0},
    )
    base = inc.prepare_simulation(frame, beta=0.0, beta_se=0.0, sigma=0.0, draws=3, seed=0)
    res = inc.simulate(base, p, keep_partner_draws=True)
    exact = inc.compute_payouts(p, base.partners.rename(columns={"baseline_sales_cny": "net_sales_cny"}))
    assert np.allclose(res.partner_payout_cny[0], exact["payout_cny"], atol=0.05)
    assert res.summary("all")["cost_cny"].iloc[0] == pytest.approx(exact["payout_cny"].sum(), rel=1e-5)
    assert (res.partner_payout_cny[:, ~exact["eligible"].to_numpy()] == 0).all()


def test_threshold_pull_lifts_partners_just_below_a_threshold():
    # One tier at 100k. Baseline 98k is within 5 % × 0.5 = 2.5 % below → lifted to 100k and paid 2 %;
    # 90k is outside the window → stays and earns nothing.
    frame = pd.DataFrame({"partner_id": ["A", "B"], "baseline_sales_cny": [98_000.0, 90_000.0]})
    p = program(volume_rebate={"tiers": [{"threshold_cny": 100_000, "rate_pct": 2.0}]},
                assumptions={"pull_window_pct": 5, "pull_share": 0.5})
    base = inc.prepare_simulation(frame, beta=0.0, beta_se=0.0, sigma=0.0, draws=2, seed=0)
    res = inc.simulate(base, p, keep_partner_draws=True)
    assert res.partner_sales_cny[0].tolist() == [100_000.0, 90_000.0]
    assert res.partner_payout_cny[0].tolist() == [2_000.0, 0.0]


def test_monte_carlo_is_reproducible_for_a_seed_and_groups_add_up():
    frame = sim_partners(300)
    p = inc.load_program(CONFIG / "tiered_retroactive.yaml")
    a = inc.simulate(inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=400, seed=5), p)
    b = inc.simulate(inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=400, seed=5), p)
    c = inc.simulate(inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=400, seed=6), p)
    assert np.array_equal(a.cost_cny, b.cost_cny) and np.array_equal(a.incremental_sales_cny, b.incremental_sales_cny)
    assert not np.array_equal(a.cost_cny, c.cost_cny)
    total = a.summary("all")["cost_cny"].iloc[0]
    for by in ("tier", "region"):
        assert a.summary(by)["cost_cny"].sum() == pytest.approx(total, rel=1e-6)
    s = a.summary("all").iloc[0]
    assert s["cost_low_cny"] <= s["cost_cny"] <= s["cost_high_cny"] and 0 <= s["p_roi_positive"] <= 1


def test_scenarios_side_by_side_against_the_current_program():
    frame = sim_partners(300)
    base = inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=200, seed=2)
    current = inc.load_program(CONFIG / "synthetic_current.yaml")
    richer = inc.with_rates(current, [4.0], name="flat 4%")
    table = inc.compare_scenarios(base, {"current": current, "flat 4%": richer}, current="current")
    cur = table[table["scenario"] == "current"].iloc[0]
    alt = table[table["scenario"] == "flat 4%"].iloc[0]
    assert cur["delta_net_margin_cny"] == 0 and bool(cur["is_current"])
    assert alt["cost_cny"] > cur["cost_cny"] and alt["incremental_sales_cny"] > cur["incremental_sales_cny"]


def test_optimizer_respects_the_budget_and_beats_the_current_program():
    frame = sim_partners(400)
    base = inc.prepare_simulation(frame, beta=0.04, beta_se=0.004, sigma=0.3, draws=150, seed=3)
    current = program(volume_rebate={"tiers": TIERS, "mode": "retroactive"}, assumptions={"margin_pct": 30})
    now = inc.simulate(base, current).summary("all").iloc[0]
    budget = now["cost_cny"]
    best, fig = inc.optimize_budget(base, current, budget_cny=budget, draws=150, step_pct=0.5)
    after = inc.simulate(base, best).summary("all").iloc[0]
    assert after["cost_cny"] <= budget * (1 + 1e-6)
    assert after["incremental_margin_cny"] > now["incremental_margin_cny"]
    assert fig["incremental_margin_cny"] == pytest.approx(after["incremental_margin_cny"], rel=1e-6)
    assert list(best.rates_pct) == sorted(best.rates_pct)  # rates never fall with volume
    _, net = inc.optimize_budget(base, current, budget_cny=budget, draws=150, step_pct=0.5, objective="net_margin")
    assert net["net_margin_cny"] >= now["net_margin_cny"] and net["expected_cost_cny"] <= budget * (1 + 1e-6)
    frontier = inc.budget_frontier(base, current, budgets_cny=[0.5 * budget, budget, 2 * budget], draws=150, step_pct=0.5)
    assert (frontier["expected_cost_cny"] <= frontier["budget_cny"] * (1 + 1e-6)).all()
    assert frontier["incremental_margin_cny"].is_monotonic_increasing


# ---- response model on the synthetic network ------------------------------------------------------

def test_elasticity_recovered_on_the_synthetic_network():
    # 6,000 partners x 36 months: ~39k partner-quarters, standard error ~0.003 (7 % of the truth).
    import ibis

    from workbench import synth

    net = synth.generate(partners=6000, months=36, seed=11)
    truth = float(net.params["beta_rebate"])
    con = ibis.duckdb.connect()
    for name, frame in net.tables.items():
        con.create_table(name, frame)
    panel = inc.partner_quarter_panel(con, start="2023-10-01", end="2026-09-30")
    model = inc.RebateResponseModel().fit(panel)
    assert abs(model.beta_ - truth) / truth < 0.15, model
    assert model.ci_[0] <= truth <= model.ci_[1], model
    assert model.n_partners_ > 3000


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


def test_charts_build_and_stay_under_the_row_limit():
    import altair as alt

    from workbench import charts

    frame = sim_partners(200)
    base = inc.prepare_simulation(frame, beta=0.04, beta_se=0.005, sigma=0.3, draws=1000, seed=4)
    current = inc.load_program(CONFIG / "synthetic_current.yaml")
    tiered = inc.load_program(CONFIG / "tiered_retroactive.yaml")
    scenarios = {"current": current, "tiered": tiered, "growth": inc.load_program(CONFIG / "growth_and_awards.yaml"),
                 "flat 4%": inc.with_rates(current, [4.0])}
    comparison = inc.compare_scenarios(base, scenarios, current="current")
    draws = pd.concat([inc.simulate(base, p).draws_frame().assign(scenario=n) for n, p in scenarios.items()])
    res = inc.simulate(base, current)
    frontier = inc.budget_frontier(base, tiered, budgets_cny=[1e6, 3e6], draws=50, step_pct=1.0)
    built = [
        charts.chart_roi_distribution(draws, lang="zh"), charts.chart_cost_distribution(draws),
        charts.chart_incentive_groups(res.summary("tier")), charts.chart_scenarios(comparison),
        charts.chart_frontier(frontier, current=res.summary().iloc[0]),
    ]
    for chart in built:
        spec = chart.to_dict()
        assert all(len(rows) <= 5000 for rows in spec.get("datasets", {}).values())
        assert isinstance(chart, alt.TopLevelMixin)
    params = {p["name"] for c in (built[0], built[4]) for p in c.to_dict().get("params", [])}
    assert {"margin", "budget"} <= params  # HTML sliders
    table = charts.incentive_table(res.summary("tier"), lang="zh")
    assert "层级" not in table.columns and "分组" in table.columns


def test_saved_scenario_loads_back_identically(tmp_path):
    p = inc.with_rates(inc.load_program(CONFIG / "tiered_retroactive.yaml"), [1.5, 3.5, 5.0], name="chosen")
    assert inc.load_program(inc.save_program(p, tmp_path / "chosen.yaml")) == p


@pytest.mark.slow
def test_notebook_runs_under_papermill(demo_db, tmp_path):
    import papermill as pm

    from workbench.reports import register_engine

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "04_incentive_whatif.ipynb"
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(nb), str(out), parameters={"db": str(demo_db), "quarter": "2026Q3", "region": "East",
                                                        "lang": "zh"}, kernel_name="python3", cwd=str(nb.parent),
                        progress_bar=False, engine_name=register_engine(), execution_timeout=600)
    text = out.read_text(encoding="utf-8")
    assert "预算" in text and "contact_phone" not in text
    assert "<img src=x" not in text  # partner names are escaped


def test_widget_updates_and_exports_the_chosen_scenario(tmp_path):
    from workbench.widgets.incentives import whatif_explorer

    base = inc.prepare_simulation(sim_partners(100), beta=0.04, beta_se=0.005, sigma=0.3, draws=100, seed=1)
    tiered = inc.load_program(CONFIG / "tiered_retroactive.yaml")
    box = whatif_explorer(base, tiered, export_path=tmp_path / "chosen.yaml")
    sliders, rates = box.children[1].children
    rates.children[2].value = 7.5
    assert list(box.chosen().rates_pct) == [2.0, 4.0, 7.5]
    sliders.children[1].value = 50_000  # below tier 1: the sentence names the field, nothing is chosen
    assert "threshold_cny" in box.children[3].value and list(box.chosen().thresholds_cny)[1] == 300_000
    sliders.children[1].value = 300_000
    box.children[-1].children[1].click()
    assert inc.load_program(tmp_path / "chosen.yaml") == box.chosen()


def test_response_model_refuses_a_rate_that_never_varies_within_quarters():
    # Every partner gets 2 % then 3 %: quarter effects absorb the change, so beta is not identified.
    rng = np.random.default_rng(0)
    rows = [{"partner_id": f"P{i}", "quarter": pd.Period(q, "Q"), "net_sales_cny": float(rng.uniform(1e5, 2e5)),
             "rate_pct": 2.0 if q < "2025Q1" else 3.0, "in_life": True}
            for i in range(30) for q in ("2024Q3", "2024Q4", "2025Q1", "2025Q2")]
    with pytest.raises(WorkbenchError, match="all partners at once"):
        inc.RebateResponseModel().fit(pd.DataFrame(rows))


def test_response_model_recovers_a_planted_beta_on_a_small_panel():
    # 400 partners x 8 quarters, rate 2 % + a random 0/1/2-point pilot bump, ln sales = 0.05 x rate + noise.
    rng = np.random.default_rng(1)
    n, q = 400, 8
    quarters = pd.period_range("2024Q1", periods=q, freq="Q")
    rate = 2.0 + rng.choice([0.0, 1.0, 2.0], size=(n, q), p=[0.7, 0.15, 0.15])
    ln = rng.normal(12, 1, (n, 1)) + np.linspace(0, 0.2, q) + 0.05 * rate + rng.normal(0, 0.1, (n, q))
    panel = pd.DataFrame({"partner_id": np.repeat([f"P{i}" for i in range(n)], q), "quarter": np.tile(quarters, n),
                          "net_sales_cny": np.exp(ln).ravel(), "rate_pct": rate.ravel(), "in_life": True})
    model = inc.RebateResponseModel().fit(panel)
    assert model.ci_[0] <= 0.05 <= model.ci_[1] and abs(model.beta_ - 0.05) < 0.01
    assert model.n_partners_ == n and model.summary_["n_obs"].iloc[0] == n * q


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
