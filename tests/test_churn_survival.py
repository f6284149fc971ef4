"""workbench.churn.survival: Kaplan–Meier time-to-churn curves."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from workbench import churn


def test_survival_curves_by_tier_and_region(demo_con) -> None:
    d = churn.churn_durations(demo_con, as_of=date(2026, 9, 30))
    assert d["churned"].any() and (~d["churned"]).any() and (d["duration_days"] >= 0).all()
    km = churn.survival_curves(d, by="region")
    for _g, c in km.groupby("group"):
        assert c["survival"].iloc[0] == 1.0 and c["survival"].is_monotonic_decreasing
        assert c["survival"].between(0, 1).all()
    # statsmodels agrees with a hand-computed KM on a tiny sample: times 1,2,2,3 (event 1,1,0,1)
    tiny = pd.DataFrame({"g": "x", "duration_days": np.array([1, 2, 2, 3]) * 30.4375, "churned": [1, 1, 0, 1]})
    k = churn.survival_curves(tiny, by="g", min_n=1)
    assert k["survival"].tolist() == pytest.approx([1.0, 0.75, 0.5, 0.0])
    assert k["months"].tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0])
