"""User-facing labels in English and Simplified Chinese; `label(key, lang)` looks one up.

Each job's words live in ``workbench/present/<job>.py``, which registers its LABELS dict with
:func:`register_labels`; `label` finds keys in the blocks below and in every registered dict.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    "scope_manager": ("Channel manager", "渠道经理"),  # a pack scoped to one manager's partners
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
    # channel types (values of partners.channel_type)
    "distributor": ("Distributor", "分销商"),
    "wholesaler": ("Wholesaler", "批发商"),
    "dealer": ("Dealer", "经销商"),
    "retailer": ("Retailer", "零售商"),
    "ecommerce": ("E-commerce", "电商"),
    "key_account": ("Key account", "大客户"),
    "other": ("Other", "其他"),
}

_HEALTH: dict[str, tuple[str, str]] = {
    # tables
    "tbl_partners": ("partners", "经销商"),
    "tbl_orders": ("orders", "订单"),
    "tbl_incentives": ("incentives", "返利台账"),
    "tbl_surveys": ("surveys", "满意度调查"),
    "tbl_trainings": ("trainings", "培训"),
    "tbl_conflicts": ("conflicts", "渠道冲突"),
    "tbl_actions": ("actions", "维护动作"),
    "tbl_coverage": ("coverage", "客户覆盖"),
    # columns
    "table_name": ("Table", "数据表"),
    "rows": ("Rows", "行数"),
    "reason": ("Reason", "原因"),
    "exact_duplicates": ("Exact duplicates", "完全重复行"),
    "key_conflicts": ("Key conflicts", "主键冲突"),
    "last_order_date": ("Last order", "最后下单日期"),
    "empty_months": ("Months without orders", "无订单月数"),
    "longest_gap_months": ("Longest gap (months)", "最长断单（月）"),
    "active_partners": ("Active partners", "活跃经销商"),
    "surveyed": ("Surveyed", "已调查"),
    "missing": ("Missing", "缺失"),
    "missing_share": ("Share missing", "缺失比例"),
    "program": ("Program", "返利方案"),
    "rebate_due_cny": ("Rebate due (CNY)", "应付返利（元）"),
    "rebate_paid_cny": ("Rebate paid (CNY)", "已付返利（元）"),
    "rebate_shortfall_cny": ("Rebate shortfall (CNY)", "返利欠付（元）"),
    "unpaid_rows": ("Unpaid ledger rows", "未付台账行数"),
    "oldest_unpaid_period_end": ("Oldest unpaid period end", "最早未付期末"),
    "order_date": ("Order date", "下单日期"),
    "product_line": ("Product line", "产品线"),
    "net_amount": ("Net amount", "净金额"),
    "lines": ("Lines", "行数"),
    "file": ("File", "文件"),
    "rows_read": ("Rows read", "读取行数"),
    "rows_accepted": ("Accepted", "接收行数"),
    "rows_quarantined": ("Quarantined", "隔离行数"),
    "ingested_at": ("Loaded at", "导入时间"),
    # headings and text
    "h_title": ("Data health", "数据健康检查"),
    "h_question": ("Is our channel data complete and consistent: orders, rebates, surveys?",
                   "我们的渠道数据（订单、返利、调查）是否完整、一致？"),
    "h_findings": ("Findings", "主要发现"),
    "h_rows": ("Rows per table and month", "各数据表每月行数"),
    "h_quarantine": ("Quarantine by reason", "隔离数据（按原因）"),
    "h_duplicates": ("Duplicates caught", "拦截的重复数据"),
    "h_ingest_log": ("Files loaded", "已导入文件"),
    "h_gaps": ("Partners with gaps in ordering", "断单的经销商"),
    "h_surveys": ("Surveys missing", "缺失的满意度调查"),
    "h_rebates": ("Rebate reconciliation", "返利对账"),
    "h_shortfall_list": ("Shortfall list", "返利欠付清单"),
    "h_partners": ("Partners", "经销商数"),
    "h_relative": ("Rows vs typical month", "相对常规月份"),
    "h_chart_rows": ("Rows per month (colour: vs the table's typical month)", "每月行数（颜色：相对该表常规月份）"),
    "h_chart_quarantine": ("Quarantined rows by reason", "按原因统计的隔离行数"),
    "h_chart_gaps": ("Partners by longest ordering gap, last 12 months", "近 12 个月最长断单分布"),
    "h_chart_surveys": ("Active partners with and without a survey this quarter", "本季度活跃经销商的调查覆盖"),
    "h_chart_rebates": ("Rebate due vs paid by quarter (lines: underpaid and overpaid, never netted)",
                        "各季度应付与已付返利（折线：少付与多付，互不抵消）"),
    "h_chart_shortfall": ("Largest rebate shortfalls", "返利欠付最多的经销商"),
    "h_no_rows": ("No rows in this period.", "该期间没有数据。"),
    "h_no_quarantine": ("No rows in quarantine.", "没有被隔离的数据。"),
    "h_no_gaps": ("No partner went 3 or more months without ordering.", "没有连续 3 个月以上未下单的经销商。"),
    "h_no_active": ("No active partners this quarter.", "本季度没有活跃经销商。"),
    "h_no_rebates": ("No rebate ledger rows.", "没有返利台账数据。"),
    "h_no_shortfall": ("No rebate shortfall.", "没有欠付的返利。"),
    "h_no_duplicates": ("No duplicate lines were caught.", "没有拦截到重复数据。"),
    "h_suspected_dupes": ("Possible double entries this quarter (same partner, day, product line and amount)",
                          "本季度疑似重复录入（同一经销商、日期、产品线、金额）"),
    "h_regional_log": ("The file log is company-wide and is shown in the company report only.",
                       "导入文件记录属于全公司数据，仅在公司报告中显示。"),
    "h_no_quarantine_kept": ("This store's backend keeps no quarantine, so rejected lines cannot be shown here.",
                             "该数据源未保存隔离区，因此此处无法显示被拦截的数据行。"),
    "h_no_ingest_log": ("This store's backend keeps no ingest log, so loaded files cannot be listed here.",
                        "该数据源未保存导入记录，因此此处无法列出已导入的文件。"),
    "h_scope_note": ("Quarantined rows count for a region when their partner id belongs to it.",
                     "隔离数据按其经销商编号归属区域统计。"),
    "surveyed_note": ("Active = at least one order in the quarter.", "活跃：本季度至少有一笔订单。"),
    "volume_rebate": ("volume rebate", "销量返利"),
}
# The incentive labels live in workbench/present/incentives.py (registered at import).
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

_BUILTIN: dict[str, tuple[str, str]] = {
    **_COMMON, **_HEALTH, **_REPORTS,
}

# Labels registered by the presentation modules (workbench/present/<job>.py), by owner.
_REGISTERED: dict[str, dict[str, tuple[str, str]]] = {}
_present_loaded = False


def register_labels(owner: str, labels: Mapping[str, tuple[str, str]]) -> None:
    """Make `labels` ({key: (en, zh)}) visible to :func:`label`; `owner` names the module (e.g. 'churn').

    Called once at import by each ``workbench/present/<job>.py``; registering the same owner again
    replaces its dict.
    """
    for key, pair in labels.items():
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise TypeError(f"Label {key!r} of {owner} must be a pair (English, Chinese) of strings.")
    _REGISTERED[owner] = dict(labels)


def _load_present() -> None:
    """Import every module of workbench.present once, so each registers its labels."""
    global _present_loaded
    if _present_loaded:
        return
    _present_loaded = True
    import importlib
    import pkgutil

    import workbench.present as present

    for mod in pkgutil.iter_modules(present.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"workbench.present.{mod.name}")


COMMON_KEYS: frozenset[str] = frozenset(_COMMON)
"""Keys of the shared vocabulary (regions, tiers, channel types, …): one text everywhere, never redefined."""


def _lookup(key: str, owner: str | None = None) -> tuple[str, str] | None:
    """The (en, zh) pair of `key`: common vocabulary, then `owner`'s dict, then the other blocks and dicts.

    Registered dicts are searched in owner-name order, so the answer never depends on import order.
    """
    pair = _COMMON.get(key)
    if pair is not None:
        return pair
    if owner is not None:
        if owner not in _REGISTERED and not _present_loaded:
            _load_present()
        own = _REGISTERED.get(owner, {})
        if key in own:
            return own[key]
    pair = _BUILTIN.get(key)
    if pair is not None:
        return pair
    for name in sorted(_REGISTERED):
        if key in _REGISTERED[name]:
            return _REGISTERED[name][key]
    if not _present_loaded:
        _load_present()
        return _lookup(key, owner)
    return None


def label_sources() -> dict[str, dict[str, tuple[str, str]]]:
    """Every label dict by owner ('i18n' for the built-in blocks), after loading all present modules."""
    _load_present()
    return {"i18n": dict(_BUILTIN), **{k: dict(v) for k, v in _REGISTERED.items()}}


class _Labels(Mapping[str, tuple[str, str]]):
    """Read-only view of every label: the built-in blocks plus all registered present modules."""

    def __getitem__(self, key: str) -> tuple[str, str]:  # noqa: D105
        pair = _lookup(key)
        if pair is None:
            raise KeyError(key)
        return pair

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _lookup(key) is not None

    def _all(self) -> dict[str, tuple[str, str]]:
        _load_present()
        merged: dict[str, tuple[str, str]] = {}
        for name in sorted(_REGISTERED, reverse=True):
            merged.update(_REGISTERED[name])
        merged.update(_BUILTIN)
        merged.update(_COMMON)
        return merged

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


LABELS: Mapping[str, tuple[str, str]] = _Labels()


def label(key: str, lang: Lang = "en", *, owner: str | None = None) -> str:
    """The display label of `key` in `lang` ('en' or 'zh'); unknown keys come back unchanged.

    `owner` (e.g. 'relations') looks in that present module's dict before the other jobs' dicts, for
    keys two jobs use with different meanings ('share', 'hhi'); the common vocabulary always wins.
    """
    pair = _lookup(key, owner)
    if pair is None:
        return key
    return pair[1] if lang == "zh" else pair[0]


def relabel(columns: list[str], lang: Lang = "en", *, owner: str | None = None) -> dict[str, str]:
    """Mapping column name → display label, for DataFrame.rename before showing a table."""
    return {c: label(c, lang, owner=owner) for c in columns}
