"""Segmentation widgets: pick features, algorithm and k; the k-selection, projection and profile charts
update. Wiring only: the numbers come from ``workbench.segment``."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from workbench import segment as sg
from workbench.charts.segment import chart_k_selection, chart_profile_heatmap, chart_segments_2d
from workbench.i18n import label
from workbench.present import segment as ps
from workbench.widgets import show

__all__ = ["segment_explorer"]


def segment_explorer(
    features: pd.DataFrame,
    *,
    lang: str = "en",
    seed: int = 0,
    n_bootstrap: int = 5,
    default_features: list[str] | None = None,
) -> Any:
    """A VBox with a feature picker, algorithm and k dropdowns over `features` (partner_id + numeric
    columns, e.g. ``segment.cluster_features``), showing the k search, the 2-D projection and the
    profiles of the chosen segmentation. Starts rendered with the defaults (all features, KMeans,
    k chosen automatically), so a papermill run shows them. `.segmenter()` returns the fitted Segmenter.
    """
    import ipywidgets as w

    numeric = [c for c in features.columns if c != "partner_id" and pd.api.types.is_numeric_dtype(features[c])]
    style = {"description_width": "initial"}
    pick = w.SelectMultiple(options=numeric, value=tuple(default_features or numeric), rows=min(10, len(numeric)),
                            description=label("seg_feature", lang), style=style)
    algorithm = w.Dropdown(options=[("KMeans", "kmeans"), ("Gaussian mixture", "gmm")], value="kmeans",
                           description=label("seg_algorithm", lang), style=style)
    k = w.Dropdown(options=[(label("seg_auto", lang), "auto"), *[(str(i), i) for i in range(2, 9)]], value="auto",
                   description=label("seg_k", lang), style=style)
    status, k_out, plot_out, prof_out = w.HTML(), w.Output(), w.Output(), w.Output()
    state: dict[str, Any] = {}

    def update(_: Any = None) -> None:
        cols = list(pick.value)
        if len(features) < 3:
            status.value = f"<i>{html.escape(label('seg_too_few', lang))}</i>"
            return
        if not cols:
            status.value = f"<b style='color:#c8453c'>{html.escape(label('seg_pick_one', lang))}</b>"
            return
        seg = sg.make_segmenter(algorithm=algorithm.value, k=k.value, seed=seed, n_bootstrap=n_bootstrap)
        seg.fit(features[cols])
        state["segmenter"] = seg
        chosen = seg.selection_.set_index("k").loc[seg.n_clusters_]
        status.value = html.escape(
            f"k = {seg.n_clusters_} · {label('seg_silhouette', lang)} {chosen['silhouette']:.2f} · "
            f"{label('seg_stability', lang)} {chosen['stability']:.2f} · {len(features):,} "
            f"{label('seg_partners', lang)}"
        )
        for out, chart in (
            (k_out, chart_k_selection(seg.selection_, lang=lang)),
            (plot_out, chart_segments_2d(
                ps.with_cluster_names(sg.project_2d(seg, features[["partner_id", *cols]], seed=seed), seg, lang),
                lang=lang)),
            (prof_out, chart_profile_heatmap(ps.with_cluster_names(sg.profile_long(seg), seg, lang), lang=lang)),
        ):
            show(out, chart)

    for widget in (pick, algorithm, k):
        widget.observe(update, names="value")
    update()
    box = w.VBox([w.HTML(f"<b>{html.escape(label('seg_explorer_heading', lang))}</b>"),
                  w.HBox([pick, w.VBox([algorithm, k])]), status, k_out, plot_out, prof_out])
    box.segmenter = lambda: state.get("segmenter")
    return box
