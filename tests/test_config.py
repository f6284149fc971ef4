"""YAML → dataclass loading: unknown, missing and mistyped fields are one-sentence errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from workbench.config import from_dict, load
from workbench.errors import ConfigError


@dataclass(frozen=True)
class Tier:
    name: str
    min_score: float
    kind: Literal["percentile", "absolute"] = "percentile"


@dataclass(frozen=True)
class Rules:
    tiers: list[Tier]
    weights: dict[str, float] = field(default_factory=dict)
    note: str | None = None


def test_builds_nested_dataclasses() -> None:
    rules = from_dict(Rules, {"tiers": [{"name": "core", "min_score": 80}], "weights": {"sales": 0.5}}, where="t.yaml")
    assert rules == Rules(tiers=[Tier("core", 80.0)], weights={"sales": 0.5})
    assert isinstance(rules.tiers[0].min_score, float)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tiers": [{"name": "core", "min_score": 80, "colour": "red"}]}, "t.yaml: tiers[0] has unknown field 'colour'"),
        ({"tiers": [{"name": "core"}]}, "t.yaml: tiers[0] is missing the required field 'min_score'"),
        ({"tiers": [{"name": "core", "min_score": "high"}]}, "t.yaml: tiers[0]: min_score must be a number"),
        ({"tiers": [{"name": "core", "min_score": 1, "kind": "rank"}]}, "kind must be one of percentile, absolute"),
        ({"tiers": "core"}, "t.yaml: tiers must be a list"),
    ],
)
def test_errors_name_the_field(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_dict(Rules, data, where="t.yaml")


def test_missing_and_invalid_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(Rules, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers: [\n  - name: core\n   min_score: 3\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load(Rules, bad)


def test_load_yaml_copies_and_sees_each_version_of_a_file(tmp_path):
    import os

    from workbench.config import load_yaml

    f = tmp_path / "c.yaml"
    f.write_text("a: [1, 2]\nname: 渠道\n", encoding="utf-8")
    first = load_yaml(f)
    assert first == {"a": [1, 2], "name": "渠道"}
    first["a"].append(3)  # a caller changing its copy does not change what the next caller gets
    assert load_yaml(f) == {"a": [1, 2], "name": "渠道"}
    f.write_text("a: [7]\n", encoding="utf-8")
    os.utime(f, ns=(1, 1))  # a new version even within the file system's clock resolution
    assert load_yaml(f) == {"a": [7]}
    f.write_text("a: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_yaml(f)
