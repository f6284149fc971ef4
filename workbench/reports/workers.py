"""Run a pack's notebook jobs side by side: worker processes (``python -m workbench.reports _worker``), each
driving one kernel, fed one job at a time; or one after the other in this thread."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from workbench.present.reports import page_missing
from workbench.reports.execute import LOG_NAME, NotebookRun, _Kernel, _run_one, _write_missing


def _run_sequence(jobs: Any, *, reuse: bool, emit: Any) -> None:
    """Run jobs one after the other in this thread; with `reuse`, in one kernel that is reset between
    jobs (replaced after a failed notebook or a failed reset). `emit(result)` is called after each job."""
    kernel = _Kernel(kernel_name="python3") if reuse else None
    try:
        for job in jobs:
            use = None
            if kernel is not None:
                kernel.kernel_name = job["kernel"]
                if kernel.ready(str(Path(job["notebook"]).parent)):
                    use = kernel
            try:
                res = _run_one(job, kernel=use)
            except Exception as exc:  # noqa: BLE001 - a crashed job is one failed notebook
                res = _crashed(job, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            if res["error"] and kernel is not None:
                kernel.shutdown()  # never reuse a kernel after a failure
            emit(res)
    finally:
        if kernel is not None:
            kernel.shutdown()


def _crashed(job: dict[str, Any], error: str, trace: str = "") -> dict[str, Any]:
    """The result of a job whose worker crashed; writes a page that says so (the index links to it)."""
    _write_missing(job, page_missing(error, log_file=LOG_NAME, lang=job["lang"]))
    return {"pack": job["pack"], "notebook": Path(job["notebook"]).stem, "html": job["html"], "seconds": 0.0,
            "error": error, "error_cell": None, "produced": False, "traceback": trace}


def _serve(reuse: bool) -> int:
    """Worker process (``python -m workbench.reports _worker``): jobs as JSON lines on stdin, one result
    line per job on stdout. Separate processes, not threads: kernel clients in two threads of one
    process can stall each other (ipywidgets comms), and a process keeps its kernel between jobs."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr
    sys.stdout = sys.stderr

    def jobs() -> Any:
        for line in sys.stdin:
            if line.strip():
                yield json.loads(line)

    def emit(res: dict[str, Any]) -> None:
        proto.write(json.dumps(res, ensure_ascii=False) + "\n")

    _run_sequence(jobs(), reuse=reuse, emit=emit)
    return 0


# Worker processes (and the kernels they start) run side by side, one per core: a multi-threaded BLAS in
# each would oversubscribe the cores and spin (several times the CPU on small model fits).
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _worker_process(reuse: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "workbench.reports", "_worker", *([] if reuse else ["--fresh"])]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
                            env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1", **_ONE_THREAD})


def _feed(todo: queue.Queue, reuse: bool, emit: Any) -> None:
    """Hand jobs one at a time to a worker process until the queue is empty (respawn it if it dies)."""
    proc = None
    try:
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            if proc is None or proc.poll() is not None:
                proc = _worker_process(reuse)
            try:
                proc.stdin.write(json.dumps(job, ensure_ascii=False) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
            except OSError:
                line = ""
            emit(json.loads(line) if line else _crashed(job, "the worker process died"))
    finally:
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.wait()


def _execute(job_list: list[dict[str, Any]], *, jobs: int, progress: bool, reuse_kernels: bool,
             expected: dict[str, float] | None = None) -> list[NotebookRun]:
    """Run the jobs `jobs` at a time (worker processes, each driving its own kernel), with a tqdm bar;
    notebooks with the longest `expected` seconds start first. Runs come back in `job_list` order."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(job_list), desc="report", unit="notebook", disable=not progress, file=sys.stderr)
    lock = threading.Lock()
    done: list[dict[str, Any]] = []

    def emit(res: dict[str, Any]) -> None:
        with lock:
            done.append(res)
            bar.set_postfix_str(f"{res['pack']}/{res['notebook']}")
            bar.update()

    expected = expected or {}
    ordered = sorted(job_list, key=lambda j: -expected.get(Path(j["notebook"]).stem, 0.0))  # stable
    try:
        if jobs <= 1:
            _run_sequence(ordered, reuse=reuse_kernels, emit=emit)
        else:
            todo: queue.Queue = queue.Queue()
            for job in ordered:
                todo.put(job)
            feeders = [threading.Thread(target=_feed, args=(todo, reuse_kernels, emit), daemon=True)
                       for _ in range(jobs)]
            for t in feeders:
                t.start()
            for t in feeders:
                t.join()
    finally:
        bar.close()
    order = {(j["pack"], Path(j["notebook"]).stem): i for i, j in enumerate(job_list)}
    runs = [NotebookRun(pack=d["pack"], notebook=d["notebook"], html=Path(d["html"]), seconds=d["seconds"],
                        error=d["error"], error_cell=d["error_cell"], produced=d.get("produced", True),
                        traceback=d.get("traceback", ""), headline=d.get("headline", {})) for d in done]
    return sorted(runs, key=lambda r: order.get((r.pack, r.notebook), 0))

