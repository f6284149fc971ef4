"""Tests for workbench.incentives: program files: validation errors, shipped programs, save and load."""

from __future__ import annotations

import pytest
import yaml
from _incentives_cases import CONFIG, TIERS, program

from workbench import incentives as inc
from workbench.errors import ConfigError

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


def test_saved_scenario_loads_back_identically(tmp_path):
    p = inc.with_rates(inc.load_program(CONFIG / "tiered_retroactive.yaml"), [1.5, 3.5, 5.0], name="chosen")
    assert inc.load_program(inc.save_program(p, tmp_path / "chosen.yaml")) == p


def test_currency_neutral_names_load_like_the_cny_names():
    # threshold / amount / per_partner / total (and metric new_product_sales) are the same fields as
    # the historical _cny names; giving both spellings of one field is a one-sentence error.
    old = program(caps={"per_partner_cny": 20_000, "total_cny": 50_000},
                  awards=[{"name": "push", "metric": "new_product_sales_cny", "min_value": 1, "amount_cny": 500,
                           "product_lines": ["x"]}])
    new = program(volume_rebate={"tiers": [{"threshold": t["threshold_cny"], "rate_pct": t["rate_pct"]} for t in TIERS]},
                  caps={"per_partner": 20_000, "total": 50_000},
                  awards=[{"name": "push", "metric": "new_product_sales", "min_value": 1, "amount": 500,
                           "product_lines": ["x"]}])
    assert new == old
    with pytest.raises(ConfigError, match="'total' and 'total_cny' name the same field"):
        program(caps={"total": 1, "total_cny": 1})
    assert "threshold" in inc.program_to_dict(old)["volume_rebate"]["tiers"][0]
