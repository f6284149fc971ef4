"""The papermill engine ``workbench``: its shell channel polls in every kernel it drives (the cause of the
600-second notebook waits, issue #21), a cell that never finishes ends with one sentence naming the notebook
and cell, and the stock ``papermill`` command reaches it as ``--engine workbench`` (entry point, no import
cycle)."""

from __future__ import annotations

import json
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


def _papermill_cli(nb: str, out: Path, db: Path, timeout: float, *, engine: str | None = None) -> tuple[float, str]:
    """Run the stock `papermill` command (papermill's own engine unless `engine`); (seconds, error or '')."""
    cmd = [str(PAPERMILL), *(["--engine", engine] if engine else []), "--no-progress-bar",
           "--cwd", str(ROOT / "notebooks"), "-k", "python3", "--execution-timeout", "600",
           str(ROOT / "notebooks" / nb), str(out), "-p", "db", str(db), "-p", "quarter", "2026Q3", "-p", "lang", "zh"]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **ONE_THREAD})
    except subprocess.TimeoutExpired:
        return time.monotonic() - t0, f"{nb}: no result within {timeout:.0f} s"
    err = "" if r.returncode == 0 else f"{nb}: exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}"
    return time.monotonic() - t0, err


# Runs of each notebook. One stock run costs ~15-40 s on 2 cores (papermill, kernel and imports; the store is
# tiny), so `make test` runs a few; WB_STOCK_PAPERMILL_RUNS=20 is the twenty (`make stress-notebooks`).
STOCK_RUNS = int(os.environ.get("WB_STOCK_PAPERMILL_RUNS") or 2)
STOCK_TIMEOUT_S = 240  # a stalled widget cell waits the 600 s cell timeout: far beyond any clean run


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest demo store whose notebooks 03 and 04 still run every live widget cell: 40 partners."""
    from workbench.synth import build_demo_store

    path = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    build_demo_store(path, partners=40, months=36, seed=7, mode="easy")
    return path


def _widget_outputs(nb: nbformat.NotebookNode) -> list[int]:
    """Outputs held by each ipywidgets Output widget in the notebook's saved widget state."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [len(m["state"].get("outputs", [])) for m in state.values() if m.get("model_name") == "OutputModel"]


@pytest.mark.slow
def test_the_stock_papermill_command_runs_03_and_04_without_a_stall(tiny_db, tmp_path):
    """The command a manager types, with papermill's own engine (no --engine): notebooks 03 and 04, every
    live widget cell included, STOCK_RUNS times each, two at a time, each within a timeout (#20.2, #21).
    The explorers fill their Output widgets as widget state, so nbclient sends nothing to the kernel while a
    cell runs (the nbclient#312 lost wake-up that stalled this command for the 600 s cell timeout)."""
    runs = [(nb, i) for i in range(STOCK_RUNS) for nb in ("03_churn_risk", "04_incentive_whatif")]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(
            lambda r: _papermill_cli(f"{r[0]}.ipynb", tmp_path / f"{r[0]}-{r[1]}.ipynb", tiny_db, STOCK_TIMEOUT_S),
            runs))
    assert [e for _, e in results if e] == []
    for nb, i in runs:
        out = nbformat.read(tmp_path / f"{nb}-{i}.ipynb", as_version=4)
        assert not out.metadata["papermill"]["exception"]
        live = [c for c in out.cells if "report-skip" in c.metadata.get("tags", []) and c.cell_type == "code"]
        assert live and all(c.get("outputs") for c in live), f"{nb} run {i}: a live widget cell showed nothing"
        text = json.dumps(out.cells, ensure_ascii=False)
        assert "<img src=x" not in text and "contact_phone" not in text  # names escaped, no contact field
        if nb == "04_incentive_whatif":  # the what-if explorer's charts and table, as widget state
            assert sorted(_widget_outputs(out)) == [1, 2], f"run {i}: {_widget_outputs(out)}"
            assert "预算" in text
        else:
            assert "流失风险" in text and "回测胜出" in text


def test_explorers_fill_output_widgets_as_state_and_redraw_on_a_change():
    """The KPI explorer's table and chart are Output-widget state, not displays captured inside `with out:`
    (outside a kernel a capture would leave them empty), and picking a region replaces them."""
    from tests.test_retro_findings import _small_kpis
    from workbench.widgets.retro import kpi_explorer

    kpis = _small_kpis()
    kpis.loc[kpis["group"] == "East", "value"] *= 3
    box = kpi_explorer(kpis, lang="en")
    region, _ = box.children[0].children
    table, chart = box.children[1], box.children[2]
    before = (table.outputs, chart.outputs)
    assert len(table.outputs) == 1 and "text/html" in table.outputs[0]["data"]
    assert len(chart.outputs) == 1 and chart.outputs[0]["output_type"] == "display_data"
    region.value = "East"
    assert table.outputs != before[0] and chart.outputs != before[1] and len(table.outputs) == 1
    assert "300" in table.outputs[0]["data"]["text/html"]  # East's sales, three times the network's


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
