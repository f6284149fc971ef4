"""User-facing labels in English and Simplified Chinese; `label(key, lang)` looks one up."""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "zh"]

# Each block belongs to one module; add keys to your own block only.
# key: (English, 简体中文)

_COMMON: dict[str, tuple[str, str]] = {
    "partner_id": ("Partner ID", "经销商编号"),
    "name": ("Partner", "经销商名称"),
    "region": ("Region", "区域"),
    "province": ("Province", "省份"),
    "city": ("City", "城市"),
    "channel_type": ("Channel type", "渠道类型"),
    "tier": ("Tier", "层级"),
    "quarter": ("Quarter", "季度"),
    "month": ("Month", "月份"),
    "all": ("All regions", "全部区域"),
    "core": ("Core", "核心"),
    "growth": ("Growth", "成长"),
    "pilot": ("Pilot", "试点"),
    "net_sales": ("Net sales", "净销售额"),
    "monthly_sales": ("Monthly sales", "月销售额"),
    "satisfaction": ("Satisfaction", "满意度"),
    "repeat_rate": ("Repeat rate", "返单率"),
    "retention": ("Retention", "留存率"),
    "East": ("East", "华东"),
    "South": ("South", "华南"),
    "North": ("North", "华北"),
    "Central": ("Central", "华中"),
    "Southwest": ("Southwest", "西南"),
    "Northeast": ("Northeast", "东北"),
    "Northwest": ("Northwest", "西北"),
}

_HEALTH: dict[str, tuple[str, str]] = {}
_SEGMENT: dict[str, tuple[str, str]] = {}
_CHURN: dict[str, tuple[str, str]] = {}
_INCENTIVES: dict[str, tuple[str, str]] = {}
_RETRO: dict[str, tuple[str, str]] = {}
_REPORTS: dict[str, tuple[str, str]] = {}

LABELS: dict[str, tuple[str, str]] = {
    **_COMMON, **_HEALTH, **_SEGMENT, **_CHURN, **_INCENTIVES, **_RETRO, **_REPORTS,
}


def label(key: str, lang: Lang = "en") -> str:
    """The display label of `key` in `lang` ('en' or 'zh'); unknown keys come back unchanged."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "zh" else pair[0]


def relabel(columns: list[str], lang: Lang = "en") -> dict[str, str]:
    """Mapping column name → display label, for DataFrame.rename before showing a table."""
    return {c: label(c, lang) for c in columns}
