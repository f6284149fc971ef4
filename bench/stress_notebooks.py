"""Stress notebooks 03 and 04 to prove that no run stalls (issue #21).

Runs each notebook `--runs` times under every engine asked for, two at a time (`--workers`), and prints the
median and slowest wall time per notebook and engine. A run slower than 3x its median (or one that fails or
times out) is a stall; the script exits 1 if there is any. Engines:

- ``report``: the report runner (``workbench.reports``): worker processes, each reusing one kernel that is
  reset between runs, live-only widget cells removed. Two warm-up runs (one per worker, paying the imports)
  are reported apart and not counted.
- ``papermill-nbclient``: the stock ``papermill`` command with papermill's own engine (no ``--engine``), a
  fresh process and kernel per run, every cell run (the live widget cells too, whose Output widgets no
  longer make the client send on the shell: the lost wake-up of jupyter/nbclient#312 has nothing to lose).
- ``papermill``: the same command with ``--engine workbench`` (entry point; polls the shell; not run by default).

A run that exceeds ``--stall-s`` gets a py-spy dump of the papermill process and its kernel (``--out``).

    python bench/stress_notebooks.py                      # 30 x (03, 04) x (report, stock papermill command)
    python bench/stress_notebooks.py --runs 5 --engines papermill,papermill-nbclient
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("03_churn_risk", "04_incentive_whatif")
ENGINES = ("report", "papermill", "papermill-nbclient")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PARAMS = {"quarter": "2026Q3", "region": "East", "lang": "zh"}


def _children(pid: int) -> list[int]:
    """Direct child process ids of `pid` (Linux /proc)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def _dump(pid: int, path: Path) -> None:
    """py-spy stacks of `pid` and its children (the kernel) into `path`; a note if py-spy is missing."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with path.open("w") as f:
        for p in [pid, *_children(pid)]:
            f.write(f"===== pid {p}\n")
            f.flush()
            try:
                subprocess.run([spy, "dump", "--pid", str(p)], stdout=f, stderr=subprocess.STDOUT, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as exc:
                f.write(f"py-spy failed: {exc}\n")


def papermill_run(nb: str, i: int, *, engine: str, db: Path, work: Path, timeout: float, stall_s: float) -> dict:
    """One run of the stock `papermill` command; a py-spy dump if it passes `stall_s` seconds."""
    cmd = [str(Path(sys.executable).with_name("papermill")), "--no-progress-bar", "--cwd", str(ROOT / "notebooks"),
           "-k", "python3", "--execution-timeout", "600", str(ROOT / "notebooks" / f"{nb}.ipynb"),
           str(work / f"{engine}-{nb}-{i}.ipynb"), "-p", "db", str(db), *sum((["-p", k, v] for k, v in PARAMS.items()), [])]
    if engine == "papermill":
        cmd[1:1] = ["--engine", "workbench"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **ONE_THREAD})
    dump = work / f"stall-{engine}-{nb}-{i}.txt"
    timer = threading.Timer(stall_s, _dump, (proc.pid, dump))
    timer.start()
    try:
        _, err = proc.communicate(timeout=timeout)
        error = "" if proc.returncode == 0 else (err.strip().splitlines() or ["?"])[-1]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        error = f"no result within {timeout:.0f} s"
    finally:
        timer.cancel()
    return {"engine": engine, "notebook": nb, "seconds": time.monotonic() - t0, "error": error,
            "dump": str(dump) if dump.exists() else ""}


def report_runs(runs: int, *, notebooks: list[str], db: Path, work: Path, workers: int) -> list[dict]:
    """`runs` of each notebook through the report runner (kernel reuse), after one warm-up run per worker."""
    from workbench.reports.workers import _execute

    jobs = []
    for i in range(runs * len(notebooks) + workers):
        nb = notebooks[i % len(notebooks)]
        jobs.append({"pack": f"r{i:03d}", "notebook": str(ROOT / "notebooks" / f"{nb}.ipynb"),
                     "html": str(work / f"report-{nb}-{i}.html"), "workdir": str(work), "kernel": "python3",
                     "lang": PARAMS["lang"], "title": nb, "nav": "",
                     "parameters": {"db": str(db), **PARAMS, "as_of": ""}})
    done = _execute(jobs, jobs=workers, progress=False, reuse_kernels=True)
    return [{"engine": "report" if i >= workers else "report-warmup", "notebook": r.notebook,
             "seconds": r.seconds, "error": r.error, "dump": ""} for i, r in enumerate(done)]


def summarise(results: list[dict], factor: float, notebooks: list[str]) -> tuple[list[str], int]:
    """Lines of the figures table and the number of stalls (slower than `factor` x median, failed, timed out)."""
    lines = [f"{'engine':<20} {'notebook':<20} {'runs':>4} {'median s':>9} {'slowest s':>10} {'x median':>9} {'stalls':>6}"]
    stalls = 0
    for engine in dict.fromkeys(r["engine"] for r in results):
        for nb in notebooks:
            rs = [r for r in results if r["engine"] == engine and r["notebook"] == nb]
            if not rs:
                continue
            secs = [r["seconds"] for r in rs]
            med, top = statistics.median(secs), max(secs)
            bad = [r for r in rs if r["error"] or r["seconds"] > factor * med]
            if engine != "report-warmup":
                stalls += len(bad)
            lines.append(f"{engine:<20} {nb:<20} {len(rs):>4} {med:>9.1f} {top:>10.1f} {top / med:>9.2f} {len(bad):>6}")
            lines += [f"    stall: {r['seconds']:.1f} s {r['error']} {r['dump']}".rstrip() for r in bad
                      if engine != "report-warmup"]
    return lines, stalls


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="runs of each notebook per engine (default 30)")
    ap.add_argument("--workers", type=int, default=2, help="runs at the same time (default 2)")
    ap.add_argument("--engines", default="report,papermill-nbclient", help=f"comma-separated, of {', '.join(ENGINES)}")
    ap.add_argument("--notebooks", default=",".join(NOTEBOOKS), help="comma-separated notebook names")
    ap.add_argument("--db", help="store to run on (default: a 400-partner demo store built in a temp dir)")
    ap.add_argument("--factor", type=float, default=3.0, help="a run slower than this x median is a stall")
    ap.add_argument("--stall-s", type=float, default=180.0, help="py-spy dump a papermill run after this long")
    ap.add_argument("--timeout", type=float, default=900.0, help="kill a papermill run after this long")
    ap.add_argument("--out", help="folder for outputs and stall dumps (default: a temp dir, removed if no stall)")
    a = ap.parse_args(argv)
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    notebooks = [n.strip().removesuffix(".ipynb") for n in a.notebooks.split(",") if n.strip()]
    if unknown := sorted(set(engines) - set(ENGINES)):
        ap.error(f"unknown engine {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    work = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="wb-stress-"))
    work.mkdir(parents=True, exist_ok=True)
    db = Path(a.db) if a.db else work / "demo.duckdb"
    if not a.db:
        subprocess.run([sys.executable, "-c", "import sys; from workbench.synth import build_demo_store; "
                        "build_demo_store(sys.argv[1], partners=400, months=36, seed=7)", str(db)], check=True)
    os.environ.update(ONE_THREAD)  # report workers and their kernels, as `workbench report` runs them
    results: list[dict] = []
    t0 = time.monotonic()
    for engine in engines:
        t1 = time.monotonic()
        if engine == "report":
            results += report_runs(a.runs, notebooks=notebooks, db=db, work=work, workers=a.workers)
        else:
            order = [(nb, i) for i in range(a.runs) for nb in notebooks]
            with ThreadPoolExecutor(a.workers) as pool:
                results += list(pool.map(lambda x, e=engine: papermill_run(x[0], x[1], engine=e, db=db, work=work,
                                                                        timeout=a.timeout, stall_s=a.stall_s), order))
        print(f"{engine}: {time.monotonic() - t1:.0f} s wall", flush=True)
    lines, stalls = summarise(results, a.factor, notebooks)
    print("\n".join(lines))
    print(f"{stalls} stall(s) in {sum(r['engine'] != 'report-warmup' for r in results)} runs; "
          f"{time.monotonic() - t0:.0f} s in all; {a.workers} at a time")
    if stalls == 0 and not a.out:
        shutil.rmtree(work, ignore_errors=True)
    elif stalls:
        print(f"outputs and dumps kept in {work}")
    return 1 if stalls else 0


if __name__ == "__main__":
    sys.exit(main())
