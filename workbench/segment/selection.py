"""Model choice: the k search table and the comparison of the chosen segmentation with the baselines a
sceptical analyst tries first."""

from __future__ import annotations

import pandas as pd
from sklearn.utils.validation import check_is_fitted

from workbench.segment.models import Segmenter

__all__ = ["selection_table"]


def selection_table(seg: Segmenter) -> pd.DataFrame:
    """The k search: k, silhouette, bic, stability (mean ARI over resamples), stability_sd, chosen."""
    check_is_fitted(seg, "selection_")
    return seg.selection_.copy()
