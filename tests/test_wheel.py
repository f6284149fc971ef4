"""The package stands alone: a wheel installed into a fresh venv runs `workbench demo` and `workbench report`.

Offline: the wheel is built with the project venv's setuptools (no build isolation), installed with
``--no-index``, and the fresh venv sees the project venv's site-packages through a .pth file (so the
dependencies need no download; the checkout itself is not on its path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with the project's wheel installed; its python and a clean environment."""
    from importlib.metadata import version

    assert int(version("setuptools").split(".")[0]) >= 77, "setuptools>=77 is needed to build; run `make setup`"
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "WORKBENCH_DB", "WORKBENCH_CONFIG_DIR", "WORKBENCH_NOTEBOOKS_DIR",
                        "VIRTUAL_ENV")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(tmp / "dist"), str(ROOT)], cwd=tmp, env=env)
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", "--without-pip", str(tmp / "venv")], cwd=tmp, env=env)
    py = tmp / "venv" / "bin" / "python"
    purelib = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp, env=env).strip())
    (purelib / "project_site_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(py), "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--ignore-installed",
          "--find-links", str(tmp / "dist"), "channel-workbench"], cwd=tmp, env=env)
    # nbconvert's templates are data files of the project venv's prefix, not of the fresh one
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    return py, env


@pytest.mark.slow
def test_wheel_ships_config_and_notebooks(wheel_venv: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    py, env = wheel_venv
    probe = (
        "import json, workbench, workbench.paths as p; from workbench.ingest.mapping import default_mapping;"
        "from workbench.reports import curated_notebooks;"
        "print(json.dumps({'module': workbench.__file__, 'config': str(p.config_file('tiers.yaml')),"
        "'mapping': len(default_mapping().columns), 'notebooks': [n.name for n in curated_notebooks()]}))"
    )
    got = json.loads(_run([str(py), "-c", probe], cwd=tmp_path, env=env))
    venv = str(py.parent.parent)
    assert got["module"].startswith(venv) and got["config"].startswith(venv)
    assert got["mapping"] > 10  # the default header mapping did not silently become empty
    shipped = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert got["notebooks"] == shipped


@pytest.mark.slow
def test_wheel_runs_demo_and_report_from_another_directory(wheel_venv: tuple[Path, dict[str, str]],
                                                           tmp_path: Path) -> None:
    py, env = wheel_venv
    wb = str(py.parent / "workbench")
    _run([wb, "demo", "--partners", "60", "--months", "24", "--seed", "3"], cwd=tmp_path, env=env)
    assert (tmp_path / "data" / "workbench.duckdb").is_file()  # the store lands under the cwd, not the venv
    _run([wb, "report", "--region", "East", "--out", "site"], cwd=tmp_path, env=env)
    packs = list((tmp_path / "site").glob("*/East/pack.json"))
    assert len(packs) == 1
    manifest = json.loads(packs[0].read_text(encoding="utf-8"))
    assert manifest["ok"], manifest
    pages = sorted(p.name for p in packs[0].parent.glob("[0-9][0-9]_*.html"))
    assert len(pages) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))


@pytest.mark.slow
def test_wheel_holds_only_the_current_tree(wheel_venv: tuple[Path, dict[str, str]]) -> None:
    """No module deleted or moved since an earlier build ships (build/lib is reused by in-tree builds)."""
    py, _ = wheel_venv
    installed = py.parent.parent / "lib"
    pkg = next(installed.glob("python*/site-packages/workbench"))
    shipped = {p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py")}
    source = {p.relative_to(ROOT / "workbench").as_posix() for p in (ROOT / "workbench").rglob("*.py")}
    assert shipped == source
