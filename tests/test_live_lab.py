"""The analyst's experience, live: JupyterLab in Chromium runs every curated notebook, and the ipywidgets
explorers of notebooks 02-05 redraw their figures when a slider moves or a dropdown changes.

One JupyterLab server (127.0.0.1, random port, token) serves copies of the notebooks pointed at the small
demo store; Debian chromium is driven by Playwright with every request off 127.0.0.1 aborted. A failing
notebook leaves a full-page screenshot in the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RUN_S = 300  # longest wait for one notebook's "run all" (seconds)
REDRAW_S = 90  # longest wait for a widget's figures to redraw (seconds)
NOTEBOOKS = ["01_data_health", "02_segmentation", "03_churn_risk", "04_incentive_whatif",
             "05_quarterly_retrospective"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(server: dict, path: str, method: str = "GET") -> object:
    req = urllib.request.Request(f"{server['url']}{path}", method=method,
                                 headers={"Authorization": f"token {server['token']}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def lab(demo_db: Path, tmp_path_factory: pytest.TempPathFactory):
    """A JupyterLab server on 127.0.0.1 (random port, token) over copies of the curated notebooks whose
    `db` parameter points at the demo store; stopped after the module."""
    home = tmp_path_factory.mktemp("lab")
    nb_dir = home / "notebooks"
    nb_dir.mkdir()
    for name in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if "parameters" in cell.metadata.get("tags", []):
                cell.source = re.sub(r'^db: str = .*$', f"db: str = {str(demo_db)!r}", cell.source, flags=re.M)
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)  # every cell in the DOM (no windowing), so cells can be found by position
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = home / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)  # no "official Jupyter news?" toast (and no fetch)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "IPYTHONDIR": str(home / "ipython"), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={nb_dir}",
           f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           *(["--allow-root"] if hasattr(os, "getuid") and os.getuid() == 0 else [])]
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=nb_dir)
    server = {"url": f"http://127.0.0.1:{port}", "token": token, "dir": nb_dir, "log": home / "server.log"}
    deadline = time.monotonic() + 120
    while True:
        try:
            _api(server, "/api/status")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"JupyterLab did not start on port {port}: {server['log'].read_text()[-2000:]}")
            time.sleep(0.5)
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make sysdeps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _only_local(route) -> None:  # noqa: ANN001
    if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")):
        route.continue_()
    else:
        route.abort()


def _accept_dialogs(page) -> None:  # noqa: ANN001
    """Accept a "Select Kernel" (or any other) dialog with its default choice (Python 3)."""
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    if accept.count() and accept.first.is_visible():
        accept.first.click()


def _kernel_idle(page) -> bool:  # noqa: ANN001
    """The status bar shows a started Python kernel, idle."""
    return bool(re.search(r"Python 3[^|\n]*\| Idle", " ".join(page.locator(".jp-StatusBar-Widget").all_inner_texts())))


def _run_all(page, lab: dict, name: str) -> None:  # noqa: ANN001
    """Open `name` in JupyterLab, wait for its kernel, run all cells, wait until every code cell has an
    execution count."""
    page.goto(f"{lab['url']}/lab/tree/{name}.ipynb?reset&token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
    deadline = time.monotonic() + 120
    while not _kernel_idle(page):
        assert time.monotonic() < deadline, f"{name}: the kernel did not start within 120 s"
        page.wait_for_timeout(500)
    page.locator('.lm-MenuBar-item:has-text("Run")').first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    deadline = time.monotonic() + RUN_S
    while not page.evaluate(
            "() => { const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];"
            " return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }"):
        _accept_dialogs(page)
        assert time.monotonic() < deadline, f"{name}: run all did not finish within {RUN_S} s"
        page.wait_for_timeout(500)


def _saved_errors(page, lab: dict, name: str) -> list[str]:  # noqa: ANN001
    """Save the notebook from the browser and return its error outputs as 'cell N: Ename: value'."""
    before = (lab["dir"] / f"{name}.ipynb").stat().st_mtime_ns
    page.locator('.lm-MenuBar-item:has-text("File")').first.click()
    page.get_by_role("menuitem", name=re.compile(r"^Save Notebook")).first.click()
    deadline = time.monotonic() + 30
    while (lab["dir"] / f"{name}.ipynb").stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.2)
    nb = nbformat.read(lab["dir"] / f"{name}.ipynb", as_version=4)
    return [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(nb.cells, 1)
            if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _widget_cell(page, lab: dict, name: str):  # noqa: ANN001
    """The DOM cell of the notebook's first live-only (report-skip) cell that shows a widget."""
    nb = nbformat.read(lab["dir"] / f"{name}.ipynb", as_version=4)
    for i, c in enumerate(nb.cells):
        if "report-skip" in c.metadata.get("tags", []) and c.cell_type == "code":
            cell = page.locator(".jp-Notebook .jp-Cell").nth(i)
            if cell.locator(".jupyter-widgets").count():
                return cell
    raise AssertionError(f"{name}: no live widget was displayed")


_FIGURES_JS = """el => {
  const parts = [];
  el.querySelectorAll('.widget-html-content').forEach(e => parts.push(e.innerHTML));
  el.querySelectorAll('.widget-output script').forEach(e => parts.push(e.textContent));
  el.querySelectorAll('.widget-output table').forEach(e => parts.push(e.outerHTML));
  return parts.join('\\n');
}"""


def _figures(cell) -> str:  # noqa: ANN001
    """What the widget cell shows, not its controls: HTML widgets, chart specs and tables in Output widgets,
    without the element ids that change with every redraw."""
    shown = cell.locator(".jp-OutputArea").first.evaluate(_FIGURES_JS)
    return re.sub(r'\bid="[^"]*"|\bT_[0-9a-f]{5}\w*', "", shown)


def _change_widget(cell) -> str:  # noqa: ANN001
    """Pick another value in the cell's first dropdown, or else move its first slider; what was changed."""
    dropdown = cell.locator(".widget-dropdown select")
    if dropdown.count():
        sel = dropdown.first
        options = sel.locator("option").all_inner_texts()
        current = sel.evaluate("s => s.selectedIndex")
        sel.select_option(index=(current + 1) % len(options))
        return f"dropdown -> {options[(current + 1) % len(options)]}"
    readout = cell.locator(".widget-slider .widget-readout").first
    old = readout.inner_text()
    handle = cell.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(8):
        handle.press("ArrowRight" if _ < 4 else "PageUp")
    return f"slider {old} -> {readout.inner_text()}"


def _shutdown_kernels(lab: dict) -> None:
    for s in _api(lab, "/api/sessions") or []:
        _api(lab, f"/api/sessions/{s['id']}", method="DELETE")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_live_and_its_widgets_redraw(lab, browser, name, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.route("**/*", _only_local)
    try:
        _run_all(page, lab, name)
        assert _saved_errors(page, lab, name) == [], f"{name}: error output in JupyterLab"
        if name != "01_data_health":  # 02-05 have ipywidgets explorers
            cell = _widget_cell(page, lab, name)
            cell.scroll_into_view_if_needed()
            before = _figures(cell)
            assert before, f"{name}: the widget shows no figure"
            what = _change_widget(cell)
            deadline = time.monotonic() + REDRAW_S
            while _figures(cell) == before:
                assert time.monotonic() < deadline, f"{name}: the figures did not change within {REDRAW_S} s after {what}"
                page.wait_for_timeout(500)
    except BaseException:
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        raise
    finally:
        page.close()
        _shutdown_kernels(lab)
