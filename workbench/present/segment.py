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

from workbench.i18n import LABELS as ALL_LABELS
from workbench.i18n import label as i18n_label
from workbench.i18n import register_labels
from workbench.present import register_notices
from workbench.segment import OTHER_LINE, TIERS, TierConfig, load_tier_config
from workbench.segment import tier_summary as _tier_summary
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
    "escape_md",
    "profile_table",
    "baselines_table",
    "notice",
    "MONEY_COLUMNS",
]

# key: (English, 简体中文): the segmentation page's labels, registered with workbench.i18n
LABELS: dict[str, tuple[str, str]] = {
    "cluster": ("Cluster", "分群"),
    "cluster_name": ("Segment", "细分群体"),
    "score": ("Score", "综合得分"),
    "score_pct": ("Score percentile", "得分百分位"),
    "sales_score": ("Sales score", "销售得分"),
    "coverage_score": ("Coverage score", "覆盖得分"),
    "cooperation_score": ("Cooperation score", "合作深度得分"),
    "playbook": ("Playbook", "维护策略"),
    "seg_tier_from": ("Tier before", "原层级"),
    "seg_tier_to": ("Tier after", "新层级"),
    "net_sales_365d": ("Net sales, 12 months", "近12个月净销售额"),
    "order_days_365d": ("Order days, 12 months", "近12个月下单天数"),
    "avg_order_value": ("Sales per order day", "单日平均订单额"),
    "line_breadth": ("Product-line breadth", "品类广度"),
    "active_outlets": ("Active outlets", "活跃网点数"),
    "product_breadth_365d": ("Product lines bought", "采购品类数"),
    "tenure_days": ("Tenure (days)", "合作天数"),
    "trainings_passed_365d": ("Trainings passed", "通过培训次数"),
    "order_regularity": ("Order regularity", "下单规律性"),
    "seg_new": ("New", "新增"),
    "seg_gone": ("Gone", "流失/退出"),
    "seg_partners": ("Partners", "经销商数"),
    "seg_share_of_row": ("Share of row", "占原层级比例"),
    "seg_pc1": ("Component 1", "主成分1"),
    "seg_pc2": ("Component 2", "主成分2"),
    "seg_z": ("Difference from typical (scaled)", "与典型值差异（标准化）"),
    "seg_median": ("Median", "中位数"),
    "seg_feature": ("Feature", "特征"),
    "line_phones": ("phones", "手机"),
    "line_accessories": ("accessories", "配件"),
    "line_home_appliances": ("home appliances", "家电"),
    "line_smart_home": ("smart home", "智能家居"),
    "line_online_bundle": ("online bundle", "线上套装"),
    "line_parts": ("parts", "零部件"),
    "seg_algorithm": ("Algorithm", "算法"),
    "seg_auto": ("auto (silhouette + stability)", "自动（轮廓系数+稳定性）"),
    "seg_pick_one": ("Pick at least one feature.", "请至少选择一个特征。"),
    "median_score": ("Median score", "得分中位数"),
    "median_net_sales_365d": ("Median 12-month net sales", "近12个月净销售额中位数"),
    "score_gain": ("Score gain", "得分提升"),
    "gap": ("Points to growth", "距成长层差距"),
    "partner_share": ("Share of partners", "经销商占比"),
    "silhouette": ("Silhouette", "轮廓系数"),
    "stability": ("Stability (mean ARI)", "稳定性（平均ARI）"),
    "stability_sd": ("Stability sd", "稳定性标准差"),
    "bic": ("BIC", "BIC"),
    "chosen": ("Chosen", "选中"),
    "n_partners": ("Partners", "经销商数"),
    "seg_share_of": ("Share: ", "占比："),
    "seg_k": ("Number of clusters k", "分群数 k"),
    "seg_silhouette": ("Silhouette", "轮廓系数"),
    "seg_stability": ("Stability (mean ARI)", "稳定性（平均ARI）"),
    "seg_bic": ("BIC", "BIC"),
    "seg_chosen": ("Chosen", "选中"),
    "seg_all_clusters": ("all segments", "全部群体"),
    "seg_highlight": ("Highlight segment", "突出显示群体"),
    "seg_no_clusters": ("No partners with recent orders to cluster.", "没有近期下单的经销商可分群。"),
    "seg_no_partners": ("No partners.", "没有经销商。"),
    "seg_none": ("None.", "无。"),
    "seg_no_orders": ("no recent orders", "近期无订单"),
    "seg_chart_2d": ("Segments on a 2-D projection (PCA)", "细分群体二维投影（PCA）"),
    "seg_chart_profile": ("Segment profiles", "细分群体画像"),
    "seg_chart_pyramid": ("Tier pyramid by region", "各区域层级金字塔"),
    "seg_chart_migration": ("Tier migration", "层级迁移"),
    "seg_chart_k": ("Choosing k: silhouette and stability", "选择分群数：轮廓系数与稳定性"),
    "seg_title": ("Segmentation and tiering", "经销商分层与细分"),
    "seg_question": ("Which partners are core, growth or pilot, and which natural groups exist?",
                     "哪些经销商属于核心、成长、试点层级？存在哪些自然分群？"),
    "seg_tiers_text": (
        "Each partner scores 0–100 on sales (12-month net), customer coverage (active outlets, or product-line "
        "breadth where outlets are not reported) and cooperation depth (tenure, trainings passed, order "
        "regularity); weights, cut-offs and the playbook come from config/tiers.yaml.",
        "每个经销商按销售（近12个月净销售额）、客户覆盖（活跃网点数，未上报时用品类广度）和合作深度（合作时长、通过培训、"
        "下单规律性）得 0–100 分；权重、分层线和维护策略来自 config/tiers.yaml。"),
    "seg_why_heading": ("Score components of the top partners", "头部经销商的得分构成"),
    "seg_why_text": ("The components answer “why is this partner only growth?”.",
                     "得分构成回答“为什么这个经销商只是成长层？”。"),
    "seg_clusters_text": (
        "Clusters of partners with orders in the last 12 months, on volume, order rhythm, order size and product "
        "mix, defined on the whole network so they are the same in every region; names describe what sets each "
        "group apart from the typical partner.",
        "对近12个月有订单的经销商按销量、下单节奏、订单规模和品类结构聚类（在全网定义，各区域一致）；"
        "名称描述该群体与典型经销商的主要差异。"),
    "seg_selection_text": (
        "k is the most separated solution (silhouette) among those that survive resampling (mean adjusted "
        "Rand index over bootstrap resamples ≥ 0.75).",
        "k 取在重抽样中稳定（自助重抽样平均调整兰德指数 ≥ 0.75）的方案中分离度（轮廓系数）最高者。"),
    "seg_ready_text": ("Pilots within reach of the growth threshold whose score rose since last quarter.",
                       "得分接近成长层门槛且较上季度提升的试点经销商。"),
    "seg_tiers_heading": ("Tiers and playbook", "层级与维护策略"),
    "seg_clusters_heading": ("Natural groups (clusters)", "自然分群"),
    "seg_migration_heading": ("Tier migration", "层级迁移"),
    "seg_fell_out": ("Fell out of core", "跌出核心层"),
    "seg_ready": ("Pilots ready for promotion", "可晋升的试点经销商"),
    "seg_score_gain": ("Score gain", "得分提升"),
    "seg_gap": ("Points to growth", "距成长层差距"),
    "seg_selection_heading": ("How k was chosen", "分群数的选择"),
    "seg_explorer_heading": ("Explore (live notebook)", "交互探索（实时笔记本）"),
    "seg_other_lines": ("other lines", "其他品类"),
    "seg_baselines_text": (
        "The chosen segmentation beside the baselines a sceptical analyst tries first: KMeans on log spend "
        "per product line and a Gaussian mixture (2–8 components by BIC) on the same features. Agreement is "
        "the adjusted Rand index with the chosen segments (1 = the same partition).",
        "所选分群与常用基线对比：按品类对数采购额的 KMeans，以及相同特征上的高斯混合模型（按 BIC 选 2–8 个成分）。"
        "一致性为与所选分群的调整兰德指数（1 = 完全相同）。"),
    "method": ("Method", "方法"),
    "agreement": ("Agreement with chosen (ARI)", "与所选分群一致性（ARI）"),
    "seg_m_chosen": ("chosen segmentation", "所选分群"),
    "seg_m_kmeans_log_spend": ("KMeans on log spend per line", "按品类对数采购额的 KMeans"),
    "seg_m_gmm_same_features": ("Gaussian mixture, same features (BIC)", "相同特征的高斯混合（BIC）"),
    "seg_too_few": ("Fewer than 3 partners with recent orders here: nothing to explore.",
                    "此范围内近期有订单的经销商少于 3 家，无法探索分群。"),
    "seg_clr_of": ("Log-ratio: ", "对数比："),
    "seg_lspend_of": ("Log spend: ", "对数采购额："),
    "seg_typical": ("typical", "一般"),
}
register_labels("segment", LABELS)

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
    """The label of `key` in `lang` (this module's LABELS or any other registered block)."""
    return i18n_label(key, lang)  # type: ignore[arg-type]


def line_name(line: str, lang: str = "en") -> str:
    """A product line's display name: the label `line_<name>` where there is one, else the name
    (OTHER_LINE is the lines outside the top N: "other lines" / "其他品类")."""
    if line == OTHER_LINE:
        return label("seg_other_lines", lang)
    key = f"line_{line}"
    return label(key, lang) if key in LABELS or key in ALL_LABELS else str(line).replace("_", " ")


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


def escape_md(text: str) -> str:
    """`text` safe inside Markdown (HTML-escaped, Markdown punctuation backslashed), e.g. a region name."""
    out = html.escape(str(text), quote=False)
    for ch in "\\`*_[]#|":
        out = out.replace(ch, "\\" + ch)
    return out


def profile_table(seg: Any, feats: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Per cluster of the rows `feats`: cluster, name in `lang`, partners, median 12-month net sales and
    order days (``segment.cluster_profiles``), for ``html_table``."""
    from workbench.segment import cluster_profiles

    prof = cluster_profiles(seg, feats)[0]
    prof = prof.assign(cluster_name=cluster_names(seg, lang)).reset_index()
    cols = ["cluster", "cluster_name", "n_partners", "net_sales_365d", "order_days_365d"]
    return prof[[c for c in cols if c in prof.columns]].round(2)


def baselines_table(table: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """``segment.network_baselines`` with the methods named in `lang`, rounded for display."""
    out = table.copy()
    out["method"] = out["method"].map(
        lambda m: label("seg_m_chosen" if str(m).startswith("chosen") else f"seg_m_{m}", lang))
    return out.round(3)


# this job's NotEnoughData sentences (workbench.segment.network) and their Chinese
_ZH_NOTICES: tuple[tuple[str, str], ...] = (
    (r"^No partner in (.+) had positive net sales in the 12 months to (\S+), so none is placed in a segment",
     "{0} 在截至 {1} 的 12 个月内没有净销售额为正的经销商，因此无人归入分群；层级结果仍然显示。"),
    (r"^Fewer than 3 partners had positive net sales in the 12 months to (\S+),",
     "截至 {0} 的 12 个月内净销售额为正的经销商少于 3 家，无法分群；层级结果仍然显示。"),
    (r"^Fewer than 10 partners had sales in the 12 months to (\S+):",
     "截至 {0} 的 12 个月内有销售的经销商少于 10 家，不做基线对比。"),
)


def notice(exc: BaseException | str, lang: str = "en") -> Any:
    """``workbench.present.notice`` (this job's sentences are registered for zh pages)."""
    from workbench.present import notice as shared_notice

    return shared_notice(exc, lang)


MONEY_COLUMNS: tuple[str, ...] = ("net_sales_365d", "median_net_sales_365d", "avg_order_value")
_TIER_COLUMNS = ("tier", "tier_to", "tier_from")


def html_table(
    frame: pd.DataFrame, *, lang: str = "en", max_rows: int | None = 20, currency: str | None = None
) -> str:
    """`frame` as an escaped HTML table (``present.display_table``) with translated headers and tier
    names, money columns in `currency` (the store's; default CNY); an empty frame gives a "none" note."""
    from workbench.present import display_table

    if frame.empty:
        return f"<p><i>{html.escape(label('seg_none', lang))}</i></p>"
    df = (frame.head(max_rows) if max_rows is not None else frame).copy()
    for col in df.columns:
        if pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].map({True: "✓", False: ""})
    for col in _TIER_COLUMNS:
        if col in df.columns:
            df[col] = df[col].map(lambda t: label(t, lang) if t in TIERS else label(f"seg_{t}", lang))
    money = [c for c in MONEY_COLUMNS if c in df.columns]
    return str(display_table(df, lang, currency=currency, money=money))


register_notices("segment", _ZH_NOTICES)
