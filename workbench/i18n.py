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
_REPORTS: dict[str, tuple[str, str]] = {
    "rep_title": ("Channel Workbench report", "渠道工作台报告"),
    "rep_pack_index": ("Report index", "报告目录"),
    "rep_all_packs": ("All report packs", "全部报告包"),
    "rep_notebooks": ("Reports", "报告"),
    "rep_parameters": ("Run parameters", "运行参数"),
    "rep_snapshot": ("Data snapshot", "数据快照"),
    "rep_as_of": ("As of", "截至日期"),
    "rep_lang": ("Language", "语言"),
    "rep_rendered_at": ("Rendered at", "生成时间"),
    "rep_store": ("Store file", "数据库文件"),
    "rep_store_modified": ("Store last modified", "数据库更新时间"),
    "rep_last_order": ("Last order date", "最后订单日期"),
    "rep_table": ("Table", "数据表"),
    "rep_rows": ("Rows", "行数"),
    "rep_ok": ("ok", "完成"),
    "rep_failed": ("failed", "失败"),
    "rep_offline_note": (
        "These pages are self-contained: they open without network access, and each region's pack holds "
        "only that region's partners.",
        "这些页面完全独立：无需联网即可打开；每个区域的报告只包含该区域的经销商。",
    ),
    "nb_01_data_health": ("Data health", "数据健康检查"),
    "nb_02_segmentation": ("Partner segmentation", "经销商分层"),
    "nb_03_churn_risk": ("Churn risk", "流失风险"),
    "nb_04_incentive_whatif": ("Incentive what-if", "激励方案模拟"),
    "nb_05_quarterly_retrospective": ("Quarterly retrospective", "季度复盘"),
}

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
