"""Words for the segmentation page and command, in English and Chinese: cluster names from traits,
tier playbooks, product-line names and escaped HTML tables.

Analysis (``workbench.segment``) returns language-neutral frames and codes; this module is the only
place that turns them into a language.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.segment import TIERS, TierConfig, load_tier_config, tier_summary as _tier_summary
from workbench.segment.naming import Trait, render_name, trait_phrase

__all__ = [
    "LABELS",
    "label",
    "line_name",
    "phrase",
    "cluster_names",
    "name_clusters",
    "with_cluster_names",
    "playbook",
    "localize_playbook",
    "tier_summary",
    "html_table",
]

# key: (English, 简体中文) — labels this page adds (the older ones live in workbench.i18n)
LABELS: dict[str, tuple[str, str]] = {
    "seg_other_lines": ("other lines", "其他品类"),
    "seg_typical": ("typical", "一般"),
}

# Chinese phrase per trait code: (when high, when low); English comes from workbench.segment.naming
_ZH: dict[str, tuple[str, str]] = {
    "trend": ("订单增长", "订单下滑"),
    "recency": ("久未下单", "近期下单"),
    "cycle": ("下单周期长", "下单周期短"),
    "order_value": ("大单", "小单"),
    "frequency": ("高频下单", "低频下单"),
    "volume": ("高销量", "低销量"),
    "breadth": ("品类广", "品类窄"),
    "coverage": ("覆盖广", "覆盖窄"),
    "tenure": ("合作久", "新合作"),
    "satisfaction": ("满意度高", "满意度低"),
    "conflict": ("冲突多", "冲突少"),
    "return": ("退货多", "退货少"),
    "discount": ("折扣深", "折扣浅"),
    "training": ("培训多", "培训少"),
    "shortfall": ("返利欠付", "返利结清"),
}


def label(key: str, lang: str = "en") -> str:
    """The label of `key` in `lang` from this module's LABELS, else from ``workbench.i18n``."""
    from workbench.i18n import label as i18n_label

    pair = LABELS.get(key)
    if pair is not None:
        return pair[1] if lang == "zh" else pair[0]
    return i18n_label(key, lang)


def line_name(line: str, lang: str = "en") -> str:
    """A product line's display name: the label `line_<name>` where there is one, else the name
    ("__other__" is the lines outside the top N)."""
    from workbench.i18n import LABELS as I18N

    if line == "__other__":
        return label("seg_other_lines", lang)
    key = f"line_{line}"
    return label(key, lang) if key in I18N or key in LABELS else str(line).replace("_", " ")


def phrase(trait: Trait, lang: str = "en") -> str:
    """The phrase of one trait (code, high) in `lang`, e.g. ("volume", True) → "high volume" / "高销量"."""
    code, high = trait
    if lang != "zh":
        if code.startswith("mix:"):
            line = line_name(code[4:], "en")
            return f"mostly {line}" if high else f"little {line}"
        return trait_phrase(trait)
    if code.startswith("mix:"):
        line = line_name(code[4:], "zh")
        return f"以{line}为主" if high else f"少{line}"
    if code.startswith("raw:"):
        words = code[4:].replace("_", " ")
        return f"{words}高" if high else f"{words}低"
    return _ZH[code][0 if high else 1]


def _names(traits: pd.DataFrame, lang: str) -> pd.Series:
    sep = "，" if lang == "zh" else ", "
    names = [
        render_name(t, n, lambda tr: phrase(tr, lang), sep=sep, typical=label("seg_typical", lang))
        for t, n in zip(traits["traits"], traits["number"], strict=True)
    ]
    return pd.Series(names, index=traits.index, name="cluster_name")


def cluster_names(seg: Any, lang: str = "en") -> pd.Series:
    """A fitted Segmenter's cluster names in `lang` (en / zh), indexed by cluster."""
    return _names(seg.cluster_traits_, lang)


def name_clusters(profile_z: pd.DataFrame, lang: str = "en", **kwargs: Any) -> pd.Series:
    """Plain-word names of the clusters of a standardized profile in `lang` (see ``segment.cluster_traits``)."""
    from workbench.segment.naming import cluster_traits

    return _names(cluster_traits(profile_z, **kwargs), lang)


def with_cluster_names(frame: pd.DataFrame, seg: Any, lang: str = "en") -> pd.DataFrame:
    """`frame` (with a `cluster` column, e.g. ``segment.project_2d`` or ``profile_long``) with its
    cluster_name in `lang`; attrs are kept."""
    out = frame.copy()
    out["cluster_name"] = out["cluster"].map(cluster_names(seg, lang)).fillna(label("seg_no_orders", lang))
    out.attrs = dict(frame.attrs)
    return out


def playbook(cfg: TierConfig, tier: str, lang: str = "en") -> str:
    """The playbook of `tier` as one line, in Chinese when `lang` is zh and the config has `playbook_zh`."""
    if lang == "zh" and cfg.playbook_zh:
        return "；".join(cfg.playbook_zh.get(tier, cfg.playbook[tier]))
    return cfg.actions(tier)


def localize_playbook(
    card: pd.DataFrame, config: TierConfig | str | Path | dict | None = None, lang: str = "en"
) -> pd.DataFrame:
    """`card` (with tier and playbook columns) with the playbook in `lang`."""
    cfg = load_tier_config(config)
    out = card.copy()
    out["playbook"] = out["tier"].map({t: playbook(cfg, t, lang) for t in TIERS})
    return out


def tier_summary(
    card: pd.DataFrame, config: TierConfig | str | Path | dict | None = None, lang: str = "en"
) -> pd.DataFrame:
    """``segment.tier_summary`` with the playbook in `lang`."""
    return localize_playbook(_tier_summary(card, config), config, lang)


def html_table(frame: pd.DataFrame, *, lang: str = "en", max_rows: int | None = 20) -> str:
    """`frame` as an HTML table with translated headers and tier names; every cell is HTML-escaped
    (an empty frame gives a short "none" note)."""
    from workbench.i18n import relabel

    if frame.empty:
        return f"<p><i>{html.escape(label('seg_none', lang))}</i></p>"
    df = frame.head(max_rows) if max_rows is not None else frame
    df = df.copy()
    for col in df.columns:
        if pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].map({True: "✓", False: ""})
    for col in ("tier", "tier_to", "tier_from"):
        if col in df.columns:
            df[col] = df[col].map(lambda t: label(t, lang) if t in TIERS else label(f"seg_{t}", lang))
    return df.rename(columns=relabel(list(df.columns), lang)).to_html(
        index=False, escape=True, float_format=lambda v: f"{v:,.2f}", na_rep=""
    )
