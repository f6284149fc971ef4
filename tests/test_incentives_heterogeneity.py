"""Tests for workbench.incentives.heterogeneity: planted tier / size-class responses recovered with partial pooling."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from workbench.errors import NotEnoughData
from workbench.incentives.heterogeneity import GroupResponseModel, size_classes
from workbench.synth.incentives import heterogeneous_panel


@pytest.fixture(scope="module")
def world():
    return heterogeneous_panel(partners=2000, quarters=10, seed=3)


def test_each_group_within_20_percent_and_covered(world):
    # Planted: core 0.025 / growth 0.045 / pilot 0.065 per point, +0.01 small / −0.01 large, rates
    # targeted at weaker partners. Truth per group = mean planted slope of its partners.
    s = GroupResponseModel(by=("tier", "size_class")).fit(world.panel).summary_
    assert len(s) == 6
    for row in s.itertuples():
        truth = world.group_truth(row.dimension)[row.group]
        assert abs(row.estimate - truth) / truth < 0.20, (row.group, row.estimate, truth)
        assert row.ci_low <= truth <= row.ci_high, (row.group, row.ci_low, row.ci_high, truth)


def test_the_naive_pooled_regression_is_fooled_by_targeted_rates(world):
    # The baseline a sceptical analyst tries first (ln sales on rate across all rows, no partner
    # effects) is biased: rates were raised for weaker partners, so the slope is far off (even negative).
    d = world.panel
    naive = sm.OLS(np.log(d["net_sales_cny"]), sm.add_constant(d[["rate_pct"]])).fit().params["rate_pct"]
    assert abs(naive - world.network_beta) / world.network_beta > 0.5


def test_a_thin_group_is_pulled_toward_the_network(world):
    # Keep only 12 partners of the 'large' size class: its own estimate is noisy, so partial pooling
    # gives it less weight than the well-measured groups and moves it toward the network slope.
    panel = world.panel
    large = panel.loc[panel["size_class"] == "large", "partner_id"].unique()[12:]
    thin = panel[~panel["partner_id"].isin(large)]
    m = GroupResponseModel(by="size_class").fit(thin)
    s = m.summary_.set_index("group")
    assert s.loc["large", "n_partners"] == 12
    assert s.loc["large", "weight"] < s.drop("large")["weight"].min()
    mu = m.network_[0]
    raw, pooled = s.loc["large", "estimate_raw"], s.loc["large", "estimate"]
    assert abs(pooled - mu) <= abs(raw - mu) + 1e-12


def test_size_classes_are_terciles_and_one_group_is_not_enough(world):
    classes = size_classes(world.panel)
    assert set(classes) == {"small", "mid", "large"}
    assert abs(classes.value_counts() - len(classes) / 3).max() <= 1
    with pytest.raises(NotEnoughData):
        GroupResponseModel(by="tier").fit(world.panel[world.panel["tier"] == "core"])


def test_partner_offsets_follow_the_planted_deviations(world):
    # A partner's offset = its tier's and size class's pooled deviation from the network: it tracks the
    # planted beta_p − mean(beta) (correlation > 0.95), and is 0 for an unknown partner.
    m = GroupResponseModel(by=("tier", "size_class")).fit(world.panel)
    ids = list(world.truth["partner_id"]) + ["unknown"]
    off = m.partner_offsets(ids)
    assert off["unknown"] == 0.0
    planted = world.truth.set_index("partner_id")["beta"]
    assert np.corrcoef(off.drop("unknown"), planted - planted.mean())[0, 1] > 0.95
