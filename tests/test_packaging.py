"""The project's set-up promises: environment.yml in step with pyproject, pins that avoid known breakage."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names for PyPI distributions whose names differ.
CONDA_NAME = {"duckdb": "python-duckdb", "ibis-framework[duckdb]": "ibis-framework-duckdb"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower(), m.group(2).replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"]) + list(meta["optional-dependencies"]["test"])
    out = {}
    for req in reqs:
        name, spec = _split(req)
        out[CONDA_NAME.get(name, name)] = spec
    return out


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = _split(dep)
            if name not in {"python", "pip"}:
                out[name] = spec
    return out


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    assert _conda_requirements() == _pyproject_requirements()


def test_known_breakage_is_pinned() -> None:
    reqs = _pyproject_requirements()
    assert reqs["python-duckdb"].endswith("<2"), "ibis 12.0.0 breaks with duckdb 2.x"
    assert reqs["sqlglot"] == "<30.18", "ibis 12.0.0 breaks with sqlglot 30.18+"
    assert reqs["ibis-framework-duckdb"] == "==12.0.0"
    assert reqs["ipykernel"].endswith("<7"), "ipykernel 7 can leave an execute_request unread (report packs stall)"


def test_installed_versions_respect_the_pins() -> None:
    from importlib.metadata import version

    assert int(version("duckdb").split(".")[0]) < 2
    major, minor = (int(x) for x in version("sqlglot").split(".")[:2])
    assert (major, minor) < (30, 18)
    assert int(version("ipykernel").split(".")[0]) < 7


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first = text.index("make report")
    assert first < text.index("make test") < 1500
    assert "make test" in (ROOT / ".ci" / "run").read_text()
