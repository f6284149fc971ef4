"""Build hook: copy the top-level config/ and notebooks/ into the package as data (see workbench/paths.py).

Everything else about the build is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PACKAGE_DATA_DIRS = {"config": "config_defaults", "notebooks": "notebooks"}  # top-level → workbench/<name>
IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", "*.duckdb*", ".*")


class BuildPyWithData(build_py):
    """build_py that also copies config/ and notebooks/ into workbench/ of the build tree."""

    def run(self) -> None:
        # an in-tree build reuses build/lib: files deleted or moved since the last build would ship too
        stale = Path(self.build_lib) / "workbench"
        if stale.is_dir():
            shutil.rmtree(stale)
        super().run()
        for src, dst in PACKAGE_DATA_DIRS.items():
            source = ROOT / src
            if not source.is_dir():
                raise FileNotFoundError(f"{source} is missing; the wheel would ship without it.")
            target = Path(self.build_lib) / "workbench" / dst
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=IGNORE)


setup(cmdclass={"build_py": BuildPyWithData})
