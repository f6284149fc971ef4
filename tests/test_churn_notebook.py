"""notebooks/03_churn_risk.ipynb renders under the project's papermill engine."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_notebook_runs_under_papermill(demo_db: Path, tmp_path: Path) -> None:
    import papermill as pm

    from workbench.reports import register_engine

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "03_churn_risk.ipynb"
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(nb), str(out), parameters={"db": str(demo_db), "quarter": "2026Q3", "region": "East",
                                                        "lang": "zh"}, kernel_name="python3", cwd=str(nb.parent),
                        progress_bar=False, engine_name=register_engine(), execution_timeout=600)
    text = out.read_text(encoding="utf-8")
    assert "流失风险" in text and "回测胜出" in text
    assert "contact_phone" not in text and "contact_name" not in text
    assert "<img src=x" not in text  # partner names are escaped
