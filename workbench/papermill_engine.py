"""The papermill engine ``workbench``: papermill's nbclient engine made safe for widget notebooks and
able to run in a caller's live kernel (report packs reuse one kernel for many notebooks).

nbclient awaits an execute reply with one long ``poll`` on the kernel client's shell socket while its
Output-widget handler sends comm messages on that same socket; the send consumes the socket's
edge-triggered wake-up, so a reply that arrives meanwhile is not noticed and the run hangs with the
kernel idle (jupyter/nbclient#312; seen here in about 1 run in 12 of a notebook with Output widgets).
Here the shell channel waits in short polls, each of which re-reads the socket's state.

Use it from Python: ``pm.execute_notebook(..., engine_name=workbench.reports.register_engine())``.
(Not a papermill entry point: papermill imports its entry points while it is itself being imported,
which would make importing this module first circular.)
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, logger

ENGINE_NAME = "workbench"
POLL_S = 0.5  # longest single wait on the shell socket, in seconds


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
    """Papermill's notebook client with a :class:`PollingShell`."""

    async def async_start_new_kernel_client(self) -> Any:
        """Start the client as nbclient does, then wrap its shell channel."""
        return polling(await super().async_start_new_kernel_client())


class WorkbenchEngine(NBClientEngine):
    """Papermill's nbclient engine with :class:`WorkbenchClient`; ``kc=`` (with ``km=``) runs in the
    caller's live kernel and client, which are neither started nor stopped here."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,  # noqa: ANN001
                                 stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
        """Execute `nb_man`'s notebook (papermill's engine interface)."""
        kwargs.pop("input_path", None)
        kc = kwargs.pop("kc", None)
        client = WorkbenchClient(nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file, **kwargs)
        if kc is not None:
            client.kc = polling(kc)
        return client.execute()
