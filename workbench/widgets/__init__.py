"""ipywidgets front-ends for the live notebook; wiring only, the logic lives in the job modules.

Import a job's widgets from its submodule, e.g. `from workbench.widgets.segment import segment_explorer`.
"""
