"""The papermill engine ``workbench``: its shell channel polls in every kernel it drives (the cause of the
600-second notebook waits, issue #21), a cell that never finishes ends with one sentence naming the notebook
and cell, and the stock ``papermill`` command reaches it as ``--engine workbench`` (entry point, no import
cycle)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPERMILL = Path(sys.executable).with_name("papermill")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_a_fresh_kernel_started_by_papermill_gets_the_polling_shell(tmp_path):
    """papermill starts kernels through nbclient's sync setup_kernel, whose run_sync wrapper never calls a
    subclass's async_start_new_kernel_client: the shell must be wrapped on that path too."""
    from papermill.engines import NotebookExecutionManager

    from workbench.papermill_engine import PollingShell, WorkbenchClient

    nb = nbformat.read(_notebook(tmp_path / "a.ipynb", "1 + 1"), as_version=4)
    client = WorkbenchClient(NotebookExecutionManager(nb, progress_bar=False), kernel_name="python3", timeout=60, startup_timeout=60)
    with client.setup_kernel():
        assert isinstance(client.kc.shell_channel, PollingShell)
        assert client.wait_for_reply(client.kc.kernel_info())["msg_type"] == "kernel_info_reply"
    assert client.kc is None  # cleaned up as nbclient does


def test_the_engine_module_imports_first_and_the_entry_point_loads_lazily():
    """Importing the engine before papermill (papermill then loads its entry points, ours included) works,
    and the entry point module itself imports no papermill."""
    code = ("import sys, workbench.papermill_entry as e; assert 'papermill' not in sys.modules; "
            "import workbench.papermill_engine as real; import papermill.engines as pe; "
            "eng = pe.papermill_engines.get_engine('workbench'); "
            "assert eng.execute_managed_notebook.__func__ is real.WorkbenchEngine.execute_managed_notebook.__func__")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.slow
def test_a_cell_that_never_finishes_is_one_sentence_naming_notebook_and_cell(tmp_path):
    import papermill as pm

    from workbench.papermill_engine import NotebookTimeout
    from workbench.reports import register_engine

    src = _notebook(tmp_path / "stuck.ipynb", "x = 1", "import time\ntime.sleep(600)", "y = 2")
    t0 = time.monotonic()
    with pytest.raises(NotebookTimeout) as info:
        pm.execute_notebook(str(src), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
                            engine_name=register_engine(), execution_timeout=3)
    assert time.monotonic() - t0 < 60  # bounded by the cell timeout, not the sleep
    msg = str(info.value)
    assert msg == "stuck: cell 2 (`import time`) did not finish within 3 s and was stopped."
    assert info.value.cell_index == 2 and "time.sleep(600)" in info.value.source


def _papermill_cli(nb: str, out: Path, db: Path, timeout: float) -> tuple[float, str]:
    """Run the stock `papermill` command with --engine workbench; (seconds, error or '')."""
    cmd = [str(PAPERMILL), "--engine", "workbench", "--no-progress-bar", "--cwd", str(ROOT / "notebooks"),
           "-k", "python3", "--execution-timeout", "600", str(ROOT / "notebooks" / nb), str(out),
           "-p", "db", str(db), "-p", "quarter", "2026Q3", "-p", "region", "East", "-p", "lang", "zh"]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **ONE_THREAD})
    except subprocess.TimeoutExpired:
        return time.monotonic() - t0, f"{nb}: no result within {timeout:.0f} s"
    err = "" if r.returncode == 0 else f"{nb}: exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}"
    return time.monotonic() - t0, err


@pytest.mark.slow
def test_the_papermill_command_runs_03_and_04_with_the_workbench_engine(demo_db, tmp_path):
    """The command a manager types: one run of each notebook, both at once, each within a timeout (kept lean:
    `make stress-notebooks` runs 30 of each, see bench/stress_notebooks.py)."""
    runs = ["03_churn_risk.ipynb", "04_incentive_whatif.ipynb"]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda a: _papermill_cli(a[1], tmp_path / f"{a[0]}.ipynb", demo_db, 300),
                                enumerate(runs)))
    assert [e for _, e in results if e] == []
    out = nbformat.read(tmp_path / "1.ipynb", as_version=4)  # 04 ran its live widget cell too
    assert not out.metadata["papermill"]["exception"]
    assert any("report-skip" in c.metadata.get("tags", []) and c.get("outputs") for c in out.cells)


@pytest.mark.slow
def test_a_pack_with_a_stuck_notebook_names_it_and_renders_the_others(demo_db, tmp_path, monkeypatch):
    from workbench.reports import render_pack

    monkeypatch.setenv("WORKBENCH_CELL_TIMEOUT_S", "4")  # read by the report worker processes
    params = 'db: str = ""\nquarter: str = ""\nregion: str = "all"\nlang: str = "en"\nas_of: str = ""'
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    stuck = _notebook(nbs / "02_stuck.ipynb", params, "x = 1", "import time\ntime.sleep(600)", "y = 2")
    good = _notebook(nbs / "01_good.ipynb", params, "print('region', region)")
    for p in (stuck, good):
        nb = nbformat.read(p, as_version=4)
        nb.cells[0].metadata["tags"] = ["parameters"]
        nbformat.write(nb, p)
    t0 = time.monotonic()
    res = render_pack(demo_db, quarter="2026Q3", region="East", out=tmp_path / "reports", notebooks=[stuck, good],
                      progress=False)
    assert time.monotonic() - t0 < 180
    assert [(r.notebook, r.error) for r in res.failed] == [
        ("02_stuck", "cell 3: did not finish within 4 s and was stopped")]
    assert "FAILED East/02_stuck at cell 3: did not finish within 4 s and was stopped" in res.summary()
    ok = next(r for r in res.runs if r.notebook == "01_good")
    assert ok.ok and "region East" in ok.html.read_text(encoding="utf-8")
    assert "did not finish within 4 s" in (tmp_path / "reports" / "2026Q3" / "East" / "02_stuck.html").read_text(
        encoding="utf-8")
