"""Tests for workbench.incentives: incentive charts and the what-if widget."""

from __future__ import annotations

import pandas as pd
from _incentives_cases import CONFIG, sim_partners

from workbench import incentives as inc


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


def test_money_titles_carry_the_store_currency():
    from workbench import charts

    base = inc.prepare_simulation(sim_partners(60), beta=0.04, beta_se=0.005, sigma=0.3, draws=50, seed=1)
    current = inc.load_program(CONFIG / "synthetic_current.yaml")
    comparison = inc.compare_scenarios(base, {"current": current, "flat 4%": inc.with_rates(current, [4.0])},
                                       current="current")
    spec = str(charts.chart_scenarios(comparison, lang="en", currency="GBP").to_dict())
    assert "(GBP)" in spec and "(CNY)" not in spec
    from workbench.present import incentives as words

    page = words.scenario_table(comparison, "zh", currency="GBP")
    assert "£" in page and "_cny" not in page and "(GBP)" in page
