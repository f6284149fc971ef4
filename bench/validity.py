"""Validity of the workbench's causal estimates against planted truths: one line per check,
``name value target PASS|FAIL``; exits non-zero when any check fails.

The checks live beside this runner: ``bench/_validity_retro.py`` (action effects, pre-trends, tiers,
repeated actions, return on cost) and ``bench/_validity_incentives.py`` (rebate response, pull-forward).
Run: ``.venv/bin/python bench/validity.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

SUITES = ("_validity_retro", "_validity_incentives")


def run() -> list[tuple[str, object, str, bool]]:
    """Every suite's checks; a suite that is missing or fails to run is one FAIL line naming it."""
    rows: list[tuple[str, object, str, bool]] = []
    for suite in SUITES:
        try:
            module = importlib.import_module(suite)
        except ModuleNotFoundError as exc:
            if exc.name != suite:
                raise
            rows.append((f"{suite}_present", "missing", f"bench/{suite}.py exists", False))
            continue
        t = time.perf_counter()
        try:
            rows.extend(module.checks())
        except Exception as exc:  # noqa: BLE001 - one failed suite is a FAIL line, the others still run
            rows.append((f"{suite}_ran", type(exc).__name__, str(exc).splitlines()[0][:120] if str(exc) else "runs",
                         False))
        print(f"# {suite}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse the command line (only ``--help``: the worlds and seeds are fixed in the suites), run, print."""
    import argparse

    argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " ").replace("``", ""),
        epilog="Worlds and seeds: bench/_validity_retro.py (realistic world, 40 coverage seeds x 6 action types, "
               "5 action_world seeds, 800 partners) and bench/_validity_incentives.py; docs/retro.md, docs/incentives.md.",
    ).parse_args(argv)
    rows = run()
    for name, value, target, ok in rows:
        print(f"{name} {value} {target} {'PASS' if ok else 'FAIL'}", flush=True)
    return 0 if rows and all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
