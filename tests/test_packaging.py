"""The project's set-up promises: environment.yml in step with pyproject, pins that avoid known breakage."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
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


def test_package_data_globs_match_files() -> None:
    """Every package-data pattern names files that exist (a stale pattern ships nothing, silently)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, patterns in data.items():
        for pattern in patterns:
            assert list((ROOT / package.replace(".", "/")).glob(pattern)), f"{package}: {pattern} matches nothing"


def test_config_file_override_then_shipped(tmp_path: Path, monkeypatch) -> None:
    from workbench import paths

    assert paths.config_file("tiers.yaml") == paths.CONFIG_DIR / "tiers.yaml"
    assert paths.config_file("tiers.yaml").is_file()
    (tmp_path / "tiers.yaml").write_text("mine: true\n")
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path))
    assert paths.config_file("tiers.yaml") == tmp_path / "tiers.yaml"
    assert paths.config_file("mapping.yaml") == paths.CONFIG_DIR / "mapping.yaml"  # not overridden
    assert paths.config_file("nope.yaml") == paths.CONFIG_DIR / "nope.yaml"  # loading it names this path


def test_default_mapping_is_never_silently_empty(monkeypatch) -> None:
    from workbench.errors import ConfigError
    from workbench.ingest import mapping

    assert len(mapping.default_mapping().columns) > 10
    monkeypatch.setattr(mapping, "DEFAULT_MAPPING_FILE", ROOT / "config" / "no_such_mapping.yaml")
    with pytest.raises(ConfigError, match="no_such_mapping"):
        mapping.default_mapping()


def test_setup_py_ships_the_folders_paths_reads() -> None:
    from workbench import paths

    text = (ROOT / "setup.py").read_text()
    for top, packaged in paths.PACKAGED.items():
        assert f'"{top}": "{packaged}"' in text
        assert (ROOT / top).is_dir()


def test_data_contract_doc_lists_every_table_and_column() -> None:
    """docs/data-contract.md describes store.TABLES; a new column needs a row there."""
    from workbench.store import TABLES

    doc = (ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        assert f"### {table.name}" in doc, f"docs/data-contract.md has no section for table {table.name}"
        for col in table.column_names:
            assert f"| {col} |" in doc, f"docs/data-contract.md does not list {table.name}.{col}"


def test_nothing_names_a_path_outside_the_repository() -> None:
    """README, docs, code and tests read only files inside the clone (tests/data holds the real data)."""
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in files:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".ipynb", ".yaml", ".yml", ".toml", ".cfg", ".txt", ""} \
                or not path.is_file() or name.startswith("tests/data/"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for bad in ("../" + "shared", "shared" + "/data", "SHARED" + "_DATA", "shared" + "/DESIGN", "../" + "DESIGN.md"):  # split so this file does not name them
            if bad in text and name != "tests/test_packaging.py":
                offenders.append(f"{name}: {bad}")
    assert not offenders, offenders
