"""The papermill engine ``workbench``: papermill's nbclient engine made safe for widget notebooks and
able to run in a caller's live kernel (report packs reuse one kernel for many notebooks).

nbclient awaits an execute reply with one long ``poll`` on the kernel client's shell socket while its
Output-widget handler sends comm messages on that same socket; the send consumes the socket's
edge-triggered wake-up, so a reply that arrives meanwhile is not noticed (jupyter/nbclient#312). The
wait then lasts until the poll's own timeout (the cell timeout), when pyzmq polls the socket once more,
finds the reply and returns it: the cell "succeeds" after the full timeout with no error (issue #21:
600-second notebook tests). Here the shell channel waits in short polls, each of which re-reads the
socket's state, and every kernel client the notebook client is given is wrapped (see
:class:`WorkbenchClient`). A cell that still does not finish within the cell timeout ends the run with a
one-sentence :class:`NotebookTimeout` naming the notebook and the cell.

Use it from the command line, ``papermill --engine workbench in.ipynb out.ipynb`` (entry point
:mod:`workbench.papermill_entry`), or from Python:
``pm.execute_notebook(..., engine_name=workbench.reports.register_engine())``.
"""

from __future__ import annotations

import time
from pathlib import Path
from queue import Empty
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, logger

from workbench.errors import WorkbenchError

ENGINE_NAME = "workbench"
POLL_S = 0.5  # longest single wait on the shell socket, in seconds


class NotebookTimeout(WorkbenchError, TimeoutError):
    """A cell did not finish within the cell timeout, or its kernel died; the message names notebook and cell.

    cell_index: 1-based position in the executed notebook; source: that cell's code; reason: what happened
    ("did not finish within 600 s and was stopped").
    """

    def __init__(self, message: str, *, notebook: str, cell_index: int | None, source: str, reason: str) -> None:
        super().__init__(message)
        self.notebook, self.cell_index, self.source, self.reason = notebook, cell_index, source, reason


class PollingShell:
    """A kernel client's shell channel whose ``get_msg`` waits in polls of at most POLL_S seconds."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        """The next shell message, waiting up to `timeout` seconds (None: forever) in short polls."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = POLL_S if deadline is None else min(POLL_S, max(0.0, deadline - time.monotonic()))
            try:
                return await self._channel.get_msg(timeout=step)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


def polling(kc: Any) -> Any:
    """`kc` (an async kernel client) with its shell channel wrapped in :class:`PollingShell` (idempotent)."""
    if not isinstance(kc.shell_channel, PollingShell):
        kc._shell_channel = PollingShell(kc.shell_channel)
    return kc


class WorkbenchClient(PapermillNotebookClient):
    """Papermill's notebook client whose kernel client always has a :class:`PollingShell`.

    ``kc`` is a property that wraps every kernel client assigned to it, however it gets there. Overriding
    ``async_start_new_kernel_client`` is not enough: papermill starts kernels through nbclient's synchronous
    ``start_new_kernel_client``, a ``run_sync`` wrapper bound at class creation to ``NotebookClient``'s own
    coroutine, which never calls a subclass's override. (That is how the first version of this engine
    polled only in report packs' reused kernels, never in a fresh kernel: issue #21.)
    """

    @property
    def kc(self) -> Any:
        """The kernel client (None before start and after cleanup)."""
        return self.__dict__.get("_wb_kc")

    @kc.setter
    def kc(self, value: Any) -> None:
        self.__dict__["_wb_kc"] = None if value is None else polling(value)


def _running_cell(nb: Any) -> tuple[int | None, str]:
    """1-based position and source of the cell papermill marked as running (or the last one started)."""
    found: tuple[int | None, str] = (None, "")
    for i, cell in enumerate(nb.cells, start=1):
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status == "running":
            return i, cell.get("source", "")
        if status == "completed" and cell.cell_type == "code":
            found = (i, cell.get("source", ""))
    return found


def _first_line(source: str) -> str:
    line = next((s.strip() for s in source.splitlines() if s.strip() and not s.strip().startswith("#")), "")
    return line if len(line) <= 60 else line[:57] + "..."


class WorkbenchEngine(NBClientEngine):
    """Papermill's nbclient engine with :class:`WorkbenchClient`; ``kc=`` (with ``km=``) runs in the
    caller's live kernel and client, which are neither started nor stopped here."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,  # noqa: ANN001
                                 stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
        """Execute `nb_man`'s notebook (papermill's engine interface); a cell timeout or a dead kernel
        raises :class:`NotebookTimeout` naming the notebook and the cell."""
        name = Path(str(kwargs.pop("input_path", None) or "notebook")).stem
        kc = kwargs.pop("kc", None)
        client = WorkbenchClient(nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file, **kwargs)
        if kc is not None:
            client.kc = kc
        try:
            return client.execute()
        except (CellTimeoutError, DeadKernelError) as exc:
            index, source = _running_cell(nb_man.nb)
            where = f"cell {index} (`{_first_line(source)}`)" if index else "a cell"
            what = (f"did not finish within {execution_timeout:.0f} s and was stopped"
                    if isinstance(exc, CellTimeoutError) else "stopped because its kernel died")
            raise NotebookTimeout(f"{name}: {where} {what}.", notebook=name, cell_index=index,
                                  source=source, reason=what) from None
