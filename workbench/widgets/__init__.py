"""ipywidgets front-ends for the live notebook; wiring only, the logic lives in the job modules.

Import a job's widgets from its submodule, e.g. `from workbench.widgets.segment import segment_explorer`.
Explorers fill their Output widgets with :func:`show` (the outputs set as widget state), never by
capturing `display()` inside `with out:`: a captured display makes a headless client (papermill,
nbclient) send the widget's state back to the kernel on the shell socket while the cell runs, the
lost wake-up of jupyter/nbclient#312 that could stall the stock `papermill` command for the cell timeout.
"""

from __future__ import annotations

from typing import Any

__all__ = ["show"]


def show(out: Any, *objects: Any) -> None:
    """Replace what the Output widget `out` shows by `objects`, formatted as `display()` would, in one state update."""
    from IPython.core.interactiveshell import InteractiveShell

    fmt = InteractiveShell.instance().display_formatter.format
    outputs = []
    for obj in objects:
        data, metadata = fmt(obj)
        outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})
    out.outputs = tuple(outputs)
