"""Words, tables and sentences of the quarterly retrospective, in English and Chinese.

The analysis (``workbench.retro``) returns language-neutral frames and :class:`~workbench.retro.Finding`
records; this module turns them into display tables and sentences for `lang` ('en' or 'zh').
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.i18n import LABELS as ALL_LABELS
from workbench.i18n import label, register_labels
from workbench.present import Html, Markdown, _md_escape, display_table, notice, scope_md
from workbench.retro import KPI_ORDER, RATE_KPIS, Finding, RetroSettings, effects_display, finding_facts
from workbench.vocab import Scope, format_money, money_label, symbol

__all__ = [
    "LABELS", "MONEY_BASE", "NOTES", "SENTENCES", "effects_table", "findings", "findings_markdown", "heading",
    "kpi_label", "kpi_wide", "money", "note", "roi_table", "sentences", "table",
]

# labels of the retrospective's tables, charts and headings: key → (English, 中文)
LABELS: dict[str, tuple[str, str]] = {
    # KPI names (workbench.retro.KPI_ORDER)
    "monthly_sales_cny": ("Monthly sales (CNY)", "月销售额（元）"),
    "core_monthly_sales_cny": ("Core monthly sales (CNY)", "核心经销商月销售额（元）"),
    "net_sales_cny": ("Net sales (CNY)", "净销售额（元）"),
    "active_partners": ("Active partners", "活跃经销商"),
    "new_partners": ("New partners", "新增经销商"),
    "churned_partners": ("Churned partners", "流失经销商"),
    "retention_rate": ("Retention", "留存率"),
    "satisfaction_mean": ("Satisfaction", "满意度"),
    "incentive_cost_cny": ("Incentive cost (CNY)", "激励成本（元）"),
    "rebate_underpaid_cny": ("Rebates underpaid (CNY)", "返利少付（元）"),
    "rebate_unpaid_overdue_cny": ("… of which nothing paid (CNY)", "其中完全未付（元）"),
    "rebate_overpaid_cny": ("Rebates overpaid (CNY)", "返利多付（元）"),
    "rebate_misstated_cny": ("Misstated rebate dues (CNY)", "返利应付金额误差（元）"),
    "rebate_pending_cny": ("Rebates not yet due (CNY)", "未到期返利（元）"),
    "conflicts_opened": ("Conflicts opened", "新增冲突"),
    "conflicts_resolved": ("Conflicts resolved", "已解决冲突"),
    "trainings": ("Trainings", "培训场次"),
    "top1_share": ("Top-1 share", "第一大经销商占比"),
    "top5_share": ("Top-5 share", "前五大经销商占比"),
    "hhi": ("HHI", "赫芬达尔指数"),
    "actions_training": ("Actions: training", "动作：培训"),
    "actions_incentive": ("Actions: incentive", "动作：专项激励"),
    "actions_marketing_automation": ("Actions: marketing automation", "动作：营销自动化"),
    "actions_tiering": ("Actions: tiering", "动作：分级调整"),
    "actions_communication": ("Actions: communication", "动作：沟通会"),
    "actions_visit": ("Actions: visit", "动作：拜访"),
    "actions_other": ("Actions: other", "动作：其他"),
    # action types
    "act_training": ("Training", "培训"),
    "act_incentive": ("Incentive", "专项激励"),
    "act_marketing_automation": ("Marketing automation", "营销自动化"),
    "act_tiering": ("Tiering", "分级调整"),
    "act_communication": ("Communication", "沟通会"),
    "act_visit": ("Visit", "拜访"),
    "act_other": ("Other", "其他"),
    # table columns and chart axes
    "kpi": ("KPI", "指标"),
    "qoq": ("QoQ", "环比"),
    "yoy": ("YoY", "同比"),
    "target": ("Target", "目标"),
    "attainment": ("Attainment", "达成率"),
    "actual": ("Actual", "实际"),
    "basis": ("Basis", "口径"),
    "period": ("Period", "期间"),
    "sales_growth": ("Sales growth", "销售增长"),
    "year_to_date": ("Year to date", "年初至今"),
    "ci_low_pct": ("95% CI low (%)", "95% 区间下限（%）"),
    "ci_high_pct": ("95% CI high (%)", "95% 区间上限（%）"),
    "naive_pct": ("Naive before/after (%)", "简单前后对比（%）"),
    "n_forecasts": ("Forecasts", "预测次数"),
    "action_type": ("Action", "维护动作"),
    "effect_pct": ("Effect on sales (%)", "对销售额的影响（%）"),
    "effect_log": ("Effect (log points)", "效果（对数点）"),
    "ci_low": ("95% CI low", "95% 区间下限"),
    "ci_high": ("95% CI high", "95% 区间上限"),
    "naive_log": ("Naive before/after (log points)", "简单前后对比（对数点）"),
    "pretrend_p": ("Pre-trend p-value", "事前趋势检验 p 值"),
    "n_treated": ("Partners treated", "实施经销商数"),
    "rel_month": ("Months since action", "距动作月数"),
    "coef": ("Coefficient (log points)", "系数（对数点）"),
    "estimator": ("Estimate", "估计方法"),
    "did": ("Difference-in-differences", "双重差分"),
    "naive": ("Naive before/after", "简单前后对比"),
    "share": ("Share of net sales", "净销售额占比"),
    "measure": ("Measure", "指标"),
    "threshold": ("Alert threshold", "预警阈值"),
    "observed": ("Observed", "实际值"),
    "trend": ("Trend", "趋势"),
    "seasonal": ("Seasonal", "季节性"),
    "resid": ("Remainder", "残差"),
    "component": ("Component", "分量"),
    "forecast": ("Forecast", "预测"),
    "interval": ("95% prediction interval", "95% 预测区间"),
    "method": ("Method", "方法"),
    "model": ("Seasonal ARIMA", "季节性 ARIMA"),
    "seasonal_naive": ("Seasonal naive", "季节性朴素预测"),
    "mape": ("MAPE", "平均绝对百分比误差"),
    "rmse": ("RMSE (CNY)", "均方根误差（元）"),
    "interval_coverage": ("Interval coverage", "区间覆盖率"),
    "conflict_type": ("Conflict type", "冲突类型"),
    "opened": ("Opened", "新增"),
    "resolved": ("Resolved", "解决"),
    "open_at_end": ("Open at quarter end", "季末未解决"),
    "median_days_to_resolve": ("Median days to resolve", "解决天数中位数"),
    "party": ("Parties", "涉及方"),
    "conflicts": ("Conflicts", "冲突数"),
    "types": ("Types", "类型"),
    "last_reported": ("Last reported", "最近报告日期"),
    "price": ("Price", "价格"),
    "territory": ("Territory", "区域窜货"),
    "customer_ownership": ("Customer ownership", "客户归属"),
    "tier_from": ("Tier last quarter", "上季度层级"),
    "tier_to": ("Tier this quarter", "本季度层级"),
    "partners": ("Partners", "经销商数"),
    "new": ("New", "新加入"),
    "gone": ("Gone", "已退出"),
    "unassigned": ("Unassigned", "未分层"),
    "dimension": ("Dimension", "维度"),
    "group": ("Group", "分组"),
    "value": ("Value", "数值"),
    # notebook headings and notes
    "retro_title": ("Quarterly retrospective", "季度复盘"),
    "retro_question": (
        "What happened this quarter, against target, and which maintenance actions actually worked?",
        "本季度发生了什么、目标达成如何、哪些渠道维护动作真正有效？",
    ),
    "retro_kpis": ("KPI table", "关键指标表"),
    "retro_kpi_trends": ("KPI trends", "指标趋势"),
    "retro_targets": ("Targets and attainment", "目标与达成率"),
    "retro_effects": ("Which maintenance actions worked", "哪些维护动作有效"),
    "retro_effects_note": (
        "Stacked difference-in-differences: each action's partners against partners not (yet) treated in "
        "the same months, partner and month fixed effects, errors clustered by partner. The naive "
        "before/after comparison ignores seasonality and trends; the gap between the two is the bias "
        "it would have led to.",
        "堆叠双重差分：每类动作的经销商与同期尚未实施动作的经销商对比，控制经销商和月份固定效应，"
        "按经销商聚类标准误。简单前后对比忽略了季节性和趋势，两者之差就是它会带来的偏差。",
    ),
    "retro_event_study": ("Event study: sales before and after the action", "事件研究：动作前后的销售额"),
    "retro_pretrend_note": (
        "Coefficients before month 0 should hover around zero; if they trend, the comparison is not clean.",
        "第 0 月之前的系数应在零附近波动；若呈趋势，说明对照不干净。",
    ),
    "retro_concentration": ("Concentration risk", "集中度风险"),
    "retro_alerts": ("Alerts", "预警"),
    "retro_no_alerts": ("No concentration alert.", "无集中度预警。"),
    "retro_outlook": ("Seasonality and outlook", "季节性与展望"),
    "retro_backtest": ("Forecast backtest", "预测回测"),
    "retro_conflicts": ("Conflicts", "渠道冲突"),
    "retro_repeat_parties": ("Repeat parties", "重复冲突方"),
    "retro_migration": ("Tier migration since last quarter", "较上季度的层级迁移"),
    "retro_fell_out_of_core": ("Fell out of core", "跌出核心层"),
    "retro_ready_for_promotion": ("Pilots ready for promotion", "可晋级的试点经销商"),
    "retro_findings": ("Findings", "主要发现"),
    "retro_explore": ("Explore by region and tier", "按区域和层级查看"),
    "retro_roi": ("Which actions pay", "哪些动作划算"),
    "retro_roi_note": (
        "Return on cost = net sales the action added in the months after it (sales × (1 − e^−effect), over "
        "the horizon in config/retro.yaml) ÷ the actions' cost; above 1 it pays back in sales. Intervals "
        "carry the effect's 95% interval through; tiers are partners' tiers at the quarter's end, and a tier's "
        "effect is pulled toward the action's effect over all partners as far as its few partners leave it "
        "uncertain; 'repeat' is a partner's second action, given the first.",
        "投入产出比 = 动作后若干月内因动作增加的净销售额（销售额 × (1 − e^−效果)，月数见 config/retro.yaml）÷ "
        "动作成本；大于 1 即以销售额收回成本。区间由效果的 95% 区间换算；层级为季末层级，某层级的效果按其经销商数量少带来的不确定程度向该动作在全部经销商上的效果收拢；“重复”指经销商在首次动作后的第二次动作。"),
    "kind": ("First or repeat", "动作次序"),
    "tier_all": ("All tiers", "全部层级"),
    "first": ("First", "首次"),
    "repeat": ("Repeat", "重复"),
    "n_actions": ("Actions", "动作次数"),
    "cost_per_action": ("Cost per action", "单次成本"),
    "incremental_sales": ("Incremental sales", "增量销售额"),
    "roi": ("Return on cost", "投入产出比"),
    "roi_low": ("95% CI low", "95% 区间下限"),
    "roi_high": ("95% CI high", "95% 区间上限"),
    "cost_source": ("Cost source", "成本来源"),
    "recorded": ("recorded", "已记录"),
    "default": ("default", "默认值"),
    "mixed": ("partly default", "部分默认"),
    # contact cadence and channel dependence (tables from workbench.present.relations)
    "retro_contacts": ("Contact cadence", "联系节奏"),
    "retro_channel_mix": ("Channel-type dependence", "渠道类型依赖度"),
    "retro_review": ("Partners to review", "待评估的经销商"),
    "retro_no_review": ("No partner is declining, scored low or losing money after rebates.",
                        "没有销售下滑、满意度低或扣除返利后贡献为负的经销商。"),
    "retro_channel_note": (
        "Share of the quarter's net sales by channel type, its change on the previous quarter and on a year "
        "earlier, and the concentration over channel types (HHI); alert thresholds are channel_mix in "
        "config/retro.yaml.",
        "各渠道类型占本季度净销售额的比例、较上季度和上年同期的变化，以及渠道类型集中度（HHI）；预警阈值见 "
        "config/retro.yaml 中的 channel_mix。"),
    "share_prev_quarter": ("Share last quarter", "上季度占比"),
    "share_change_qoq": ("Change in share on last quarter", "占比环比变化"),
    "sales_change_qoq": ("Sales change on last quarter", "销售额环比"),
    "channel_type": ("Channel type", "渠道类型"),
}
register_labels("retro", LABELS)

# money columns: the label without its currency; :func:`kpi_label` adds the store's
MONEY_BASE: dict[str, tuple[str, str]] = {
    "monthly_sales_cny": ("Monthly sales", "月销售额"),
    "core_monthly_sales_cny": ("Core monthly sales", "核心经销商月销售额"),
    "net_sales_cny": ("Net sales", "净销售额"),
    "incentive_cost_cny": ("Incentive cost", "激励成本"),
    "rebate_underpaid_cny": ("Rebates underpaid", "返利少付"),
    "rebate_unpaid_overdue_cny": ("… of which nothing paid", "其中完全未付"),
    "rebate_overpaid_cny": ("Rebates overpaid", "返利多付"),
    "rebate_misstated_cny": ("Misstated rebate dues", "返利应付金额误差"),
    "rebate_pending_cny": ("Rebates not yet due", "未到期返利"),
    "rmse": ("RMSE", "均方根误差"),
}
ROI_MONEY = ("cost_per_action", "incremental_sales")

# why a section shows less (``Retrospective.notes``): code → (English, 中文)
NOTES: dict[str, tuple[str, str]] = {
    "empty_tables": ("The store holds no {tables}, so their rows show –.", "数据库中没有{tables}记录，相关行显示为 –。"),
    "no_actions": ("No maintenance actions are recorded.", "未记录任何维护动作。"),
    "no_comparable_actions": (
        "Maintenance actions are recorded here ({actions}), but none has sales before and after it beside "
        "partners not yet treated, so no effect can be estimated.",
        "已记录 {actions} 次维护动作，但没有动作前后都有销售且有同期未实施经销商可对照的情况，无法估计效果。"),
    "no_sales": ("No partner here has positive net sales in the period, so there is no concentration to show.",
                 "本范围内没有经销商在此期间有正的净销售额，无集中度可展示。"),
    "no_forecast": ("A forecast needs at least {needed} months of sales and there are {months} here, so the outlook "
                    "shows the history only.",
                    "预测至少需要 {needed} 个月的销售数据，这里只有 {months} 个月，因此只展示历史数据。"),
    "no_conflicts": ("No conflicts are recorded.", "未记录任何渠道冲突。"),
    "no_backtest": ("A forecast backtest needs at least {needed} months of sales and there are {months} here.",
                    "预测回测至少需要 {needed} 个月的销售数据，这里只有 {months} 个月。"),
    "rebate_programs_missing": (
        "No program file matches the ledger's programs {programs}, so their dues are not recomputed and their "
        "payments are checked against the ledger's own dues.",
        "台账返利政策 {programs} 没有对应的方案文件，因此不重算其应付金额，付款仅与台账应付核对。"),
    "no_active_partners": ("No partner here ordered in the 180 days to {as_of}, so there is no contact cadence to "
                           "check.", "截至 {as_of} 的 180 天内本范围没有下单的经销商，无联系节奏可查。"),
    "one_channel_type": ("Every partner in the store has the same channel type ({channel}), so there is no channel "
                         "mix to compare.", "数据库中所有经销商的渠道类型相同（{channel}），无渠道结构可比较。"),
    "no_contacts": ("No visits or communications are recorded, so contact cadence cannot be judged.",
                    "未记录任何拜访或沟通，无法评估联系节奏。"),
    "no_managers": ("No channel managers are recorded (partners.manager_id is empty), so adherence is shown by "
                    "tier only.", "未记录渠道经理（partners.manager_id 为空），执行率仅按层级展示。"),
}

# sentence templates: code → (English, 中文); {placeholders} are filled by :func:`sentences`
SENTENCES: dict[str, tuple[str, str]] = {
    "sales": ("Monthly sales in {quarter} were {value}{parts}.", "{quarter} 月销售额 {value}{parts}。"),
    "sales_qoq": ("{pct} on the previous quarter", "环比 {pct}"),
    "sales_yoy": ("{pct} on a year before", "同比 {pct}"),
    "sales_join": (", {a} and {b}|, {a}", "，{a}，{b}|，{a}"),
    "move_rate": ("The largest move: {kpi} {dir} {chg}{unit} to {value}.", "{kpi}环比{dir}{chg}{unit}，至 {value}。"),
    "move_amount": ("The largest move: {kpi} {dir} {pct} to {value}.", "变化最大的是{kpi}：环比 {pct}，至 {value}。"),
    "up": ("rose", "上升"),
    "down": ("fell", "下降"),
    "points": (" points", " 分"),
    "pct_points": (" points", " 个百分点"),
    "effect": ("{action} changed partner sales by about {effect} (95% interval {low} to {high}, "
               "difference-in-differences); a naive before/after says {naive}.",
               "{action}使经销商销售额变化约 {effect}（95% 区间 {low} 至 {high}，双重差分估计）；"
               "简单前后对比为 {naive}。"),
    "roi": ("{action} pays back most surely: about {roi} in net sales per unit of cost (95% interval {low} "
            "to {high}) at {cost} per action{source}.",
            "{action}的投入产出最确定：每单位成本约带来 {roi} 的净销售额（95% 区间 {low} 至 {high}），单次成本 {cost}{source}。"),
    "roi_default": (" (default cost)", "（默认成本）"),
    "roi_unclear": ("No action's return on cost is surely above 1 yet.", "尚无动作的投入产出比确定高于 1。"),
    "no_effect": ("No maintenance action had a statistically clear effect on sales.",
                  "本期各项维护动作对销售额均无统计上显著的效果。"),
    "top1_alert": ("Concentration alert: the largest partner took {share} of net sales in {period}, above the "
                   "{threshold} threshold.",
                   "集中度预警：{period} 最大经销商占净销售额 {share}，超过 {threshold} 的阈值。"),
    "top5_alert": ("Concentration alert: the five largest partners took {share} of net sales in {period}.",
                   "集中度预警：前五大经销商占净销售额 {share}。"),
    "forecast": ("Next quarter's monthly sales are forecast at {mean} (95% interval {low}–{high}){tail}.",
                 "下季度月销售额预测 {mean}（95% 区间 {low}–{high}）{tail}。"),
    "forecast_tail": ("; backtest error {model} vs {naive} for a seasonal-naive forecast",
                      "；回测误差 {model}，季节性朴素预测 {naive}"),
    "behind_target": ("Furthest behind target: {kpi} ({where}) at {attainment} of target.",
                      "目标达成率最低的是{kpi}（{where}）：{attainment}。"),
    "targets_met": ("Every target with a figure is met (lowest: {kpi} at {attainment}).",
                    "所有目标均已达成（最低为{kpi}，{attainment}）。"),
    "where": ("{region}, {period}", "{region}，{period}"),
    "rebates": ("Rebate audit, periods ending in {quarter}: {under} underpaid{unpaid}, {over} overpaid{misstated} "
                "(each counted apart, never netted).",
                "返利审计（{quarter} 结束的结算期）：少付 {under}{unpaid}，多付 {over}{misstated}（分别统计，不相互抵消）。"),
    "rebates_unpaid": (" ({x} of it not paid at all)", "（其中 {x} 完全未付）"),
    "rebates_misstated": (", and dues misstated by {x} in the ledger", "，台账应付金额误差 {x}"),
    "rebates_ok": ("The rebate audit finds no under- or overpayment and no misstated due for periods ending in "
                   "{first}–{last}.", "返利审计未发现 {first}–{last} 结束的结算期有少付、多付或应付金额错误。"),
    "contacts": ("{overdue:,} of {partners:,} active partners are overdue for a contact ({never:,} never contacted): "
                 "adherence {adherence}; lowest tier {tier} at {tier_adherence}{manager}.",
                 "{partners:,} 家活跃经销商中 {overdue:,} 家逾期未联系（{never:,} 家从未联系）：执行率 {adherence}；"
                 "最低层级为{tier}（{tier_adherence}）{manager}。"),
    "contacts_manager": (", lowest channel manager {manager} at {adherence}", "，最低渠道经理为 {manager}（{adherence}）"),
    "review": ("{partners:,} partners to review: {declining:,} declining, {low_satisfaction:,} scored low, "
               "{negative_contribution:,} losing money after rebates.",
               "{partners:,} 家经销商待评估：{declining:,} 家销售下滑，{low_satisfaction:,} 家满意度低，"
               "{negative_contribution:,} 家扣除返利后贡献为负。"),
}

# KPI and action names inside a sentence (lower case in English, unlike the table labels)
_KPI_WORDS: dict[str, tuple[str, str]] = {
    "core_monthly_sales_cny": ("core partners' monthly sales", "核心经销商月销售额"),
    "active_partners": ("active partners", "活跃经销商数"),
    "new_partners": ("new partners", "新增经销商数"),
    "churned_partners": ("churned partners", "流失经销商数"),
    "repeat_rate": ("the repeat rate", "返单率"),
    "retention_rate": ("retention", "留存率"),
    "satisfaction_mean": ("satisfaction", "满意度"),
    "incentive_cost_cny": ("incentive cost", "激励成本"),
    "conflicts_opened": ("new conflicts", "新增冲突"),
    "trainings": ("trainings", "培训场次"),
}
_ACTION_WORDS: dict[str, tuple[str, str]] = {
    "training": ("Training", "培训"),
    "incentive": ("Special incentives", "专项激励"),
    "marketing_automation": ("Marketing automation", "营销自动化"),
    "tiering": ("Tier changes", "分级调整"),
    "communication": ("Communication meetings", "沟通会"),
    "visit": ("Manager visits", "拜访"),
    "other": ("Other actions", "其他动作"),
}
_TARGET_WORDS: dict[str, tuple[str, str]] = {
    "sales_growth": ("sales growth", "销售增长"),
    "satisfaction": ("satisfaction", "满意度"),
    "repeat_rate": ("repeat rate", "返单率"),
    "new_partners": ("new partners", "新增经销商"),
}


def roi_table(roi: pd.DataFrame, lang: str = "en", *, currency: str = "CNY") -> Html:
    """The return-on-cost table (``Retrospective.roi``): one row per action type, tier and first/repeat; the
    effect in percent and the return on cost with one decimal ("-18.5", not "-18.50")."""
    if roi is None or roi.empty:
        return Html("<p>–</p>")
    tier = roi["tier"].astype(str)
    d = pd.DataFrame({
        "action_type": "act_" + roi["action_type"].astype(str), "tier": tier.where(tier != "all", "tier_all"),
        "kind": roi["kind"].astype(str), "n_actions": roi["n_actions"].astype(int),
        "cost_per_action": roi["cost_per_action"], "cost_source": roi["cost_source"].astype(str),
        "effect_pct": 100 * np.expm1(pd.to_numeric(roi["effect_log"], errors="coerce").astype("float64")),
        "incremental_sales": roi["incremental_sales"],
        **{c: roi[c].where(np.isfinite(roi[c].astype("float64"))) for c in ("roi", "roi_low", "roi_high")},
    })  # an unbounded interval end (a degenerate store's effect interval of hundreds of log points) shows "–"
    return display_table(d, lang, currency=currency, money=ROI_MONEY,
                         codes=("action_type", "tier", "kind", "cost_source"), owner="retro",
                         decimals=dict.fromkeys(("effect_pct", "roi", "roi_low", "roi_high"), 1))


def effects_table(effects: pd.DataFrame, lang: str = "en") -> Html:
    """The action-effects table (``Retrospective.effects``): effects, their 95% interval and the naive
    before/after in percent with one decimal, the pre-trend p-value with two, partners treated."""
    if effects is None or effects.empty:
        return Html("<p>–</p>")
    d = effects_display(effects)
    d["action_type"] = "act_" + d["action_type"].astype(str)
    pcts = ("effect_pct", "ci_low_pct", "ci_high_pct", "naive_pct")
    return display_table(d, lang, codes=("action_type",), owner="retro",
                         decimals={**dict.fromkeys(pcts, 1), "pretrend_p": 2})


def kpi_label(key: str, lang: str = "en", currency: str = "CNY") -> str:
    """The label of a KPI or column; money ones carry `currency` ("Monthly sales (GBP)", "月销售额（元）")."""
    if key in MONEY_BASE and str(currency).upper() != "CNY":
        return money_label(_w(MONEY_BASE[key], lang), currency)
    return label(key, lang, owner="retro")  # another job's same key (e.g. the audit's net_sales_cny) means else


def note(finding: Finding, lang: str = "en") -> Markdown:
    """One section note (``Retrospective.notes``) as a Markdown line in `lang`."""
    v = dict(finding.values)
    if "programs" in v:
        v["programs"] = ("、" if lang == "zh" else ", ").join(str(x) for x in v["programs"])
    if "channel" in v:
        v["channel"] = label(str(v["channel"]), lang)
    if "tables" in v:
        names = [label(f"tbl_{x}", lang) for x in v["tables"]]
        v["tables"] = "、".join(names) if lang == "zh" else (
            ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0])
    return notice(_w(NOTES[finding.code], lang).format(**v), lang)


def _w(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "zh" else pair[0]


def _t(key: str, lang: str) -> str:
    return _w(SENTENCES[key], lang)


def money(v: float, lang: str, currency: str = "CNY") -> str:
    """A compact amount for a sentence: "¥6.10M", "£12.3k"; in Chinese 万/亿 ("610.0万元" for CNY)."""
    if v is None or not np.isfinite(v):
        return "–"
    if lang == "zh":
        unit = "元" if currency == "CNY" else ""
        head = "" if currency == "CNY" else symbol(currency)
        return f"{head}{v / 1e4:,.1f}万{unit}" if abs(v) < 1e8 else f"{head}{v / 1e8:,.2f}亿{unit}"
    sym = symbol(currency)
    return f"{sym}{v / 1e6:,.2f}M" if abs(v) >= 1e6 else f"{sym}{v / 1e3:,.1f}k"


def _pct(v: float, digits: int = 1, signed: bool = True) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return f"{100 * v:+.{digits}f}%" if signed else f"{100 * v:.{digits}f}%"


def _sentence(f: Finding, lang: str, currency: str) -> str:
    v = f.values
    if f.code == "sales":
        parts = ([_t("sales_qoq", lang).format(pct=_pct(v["qoq_pct"]))] * int(np.isfinite(v["qoq_pct"]))
                 + [_t("sales_yoy", lang).format(pct=_pct(v["yoy_pct"]))] * int(np.isfinite(v["yoy_pct"])))
        two, one = _t("sales_join", lang).split("|")
        joined = two.format(a=parts[0], b=parts[1]) if len(parts) == 2 else one.format(a=parts[0]) if parts else ""
        return _t("sales", lang).format(quarter=v["quarter"], value=money(v["value"], lang, currency), parts=joined)
    if f.code == "move":
        kpi, direction = _w(_KPI_WORDS[v["kpi"]], lang), _t("up" if v["up"] else "down", lang)
        if v["kpi"] in RATE_KPIS:
            if v["kpi"] == "satisfaction_mean":
                val, chg, unit = f"{v['value']:.1f}", f"{abs(v['qoq_change']):.1f}", _t("points", lang)
            else:
                val, chg = _pct(v["value"], signed=False), f"{100 * abs(v['qoq_change']):.1f}"
                unit = _t("pct_points", lang)
            return _t("move_rate", lang).format(kpi=kpi, dir=direction, chg=chg, unit=unit, value=val)
        val = money(v["value"], lang, currency) if v["kpi"].endswith("_cny") else f"{v['value']:,.0f}"
        return _t("move_amount", lang).format(kpi=kpi, dir=direction, pct=_pct(v["qoq_pct"]), value=val)
    if f.code == "effect":
        action = _w(_ACTION_WORDS.get(v["action_type"], (v["action_type"], v["action_type"])), lang)
        return _t("effect", lang).format(action=action, effect=_pct(v["effect"], 0), low=_pct(v["low"], 0),
                                         high=_pct(v["high"], 0), naive=_pct(v["naive"], 0))
    if f.code == "roi":
        action = _w(_ACTION_WORDS.get(v["action_type"], (v["action_type"], v["action_type"])), lang)
        source = _t("roi_default", lang) if v["cost_source"] != "recorded" else ""
        return _t("roi", lang).format(action=action, roi=f"{v['roi']:.1f}", low=f"{v['low']:.1f}",
                                      high=f"{v['high']:.1f}", cost=format_money(v["cost_per_action"], currency),
                                      source=source)
    if f.code == "top1_alert":
        return _t("top1_alert", lang).format(period=v["period"], share=_pct(v["share"], signed=False),
                                             threshold=_pct(v["threshold"], 0, False))
    if f.code == "top5_alert":
        return _t("top5_alert", lang).format(period=v["period"], share=_pct(v["share"], signed=False))
    if f.code == "forecast":
        tail = ""
        if np.isfinite(v["mape_model"]) and np.isfinite(v["mape_naive"]):
            tail = _t("forecast_tail", lang).format(model=_pct(v["mape_model"], signed=False),
                                                    naive=_pct(v["mape_naive"], signed=False))
        return _t("forecast", lang).format(mean=money(v["mean"], lang, currency), low=money(v["low"], lang, currency),
                                           high=money(v["high"], lang, currency), tail=tail)
    if f.code == "rebates":
        unpaid = (_t("rebates_unpaid", lang).format(x=money(v["unpaid_overdue"], lang, currency))
                  if np.isfinite(v["unpaid_overdue"]) and v["unpaid_overdue"] > 0.005 else "")
        mis = (_t("rebates_misstated", lang).format(x=money(v["misstated"], lang, currency))
               if np.isfinite(v["misstated"]) and v["misstated"] > 0.005 else "")
        return _t("rebates", lang).format(quarter=v["quarter"], under=money(v["underpaid"], lang, currency),
                                          unpaid=unpaid, over=money(v["overpaid"], lang, currency), misstated=mis)
    if f.code == "rebates_ok":
        return _t("rebates_ok", lang).format(**v)
    if f.code == "contacts":
        man = ("" if v["manager"] is None else _t("contacts_manager", lang).format(
            manager=str(v["manager"]), adherence=_pct(v["manager_adherence"], 0, False)))
        return _t("contacts", lang).format(overdue=v["overdue"], partners=v["partners"], never=v["never"],
                                           adherence=_pct(v["adherence"], 0, False), tier=label(v["tier"], lang),
                                           tier_adherence=_pct(v["tier_adherence"], 0, False), manager=man)
    if f.code == "channel_alert":
        from workbench.present.relations import alert_sentence

        return alert_sentence(v["code"], v["channel_type"], v["value"], v["threshold"], lang)
    if f.code == "review":
        return _t("review", lang).format(**v)
    if f.code in ("behind_target", "targets_met"):
        where = _t("where", lang).format(region=label(v["region"], lang), period=v["period"])
        return _t(f.code, lang).format(kpi=_w(_TARGET_WORDS[v["kpi"]], lang), where=where,
                                       attainment=_pct(v["attainment"], 1, False))
    return _t(f.code, lang)


def findings_markdown(facts: list[Finding], lang: str = "en", *, currency: str = "CNY") -> Markdown:
    """The findings section: its heading and one escaped bullet per sentence."""
    bullets = "\n".join(f"- {_md_escape(x)}" for x in sentences(facts, lang, currency=currency))
    return Markdown(f"## {label('retro_findings', lang)}\n\n{bullets}")


def heading(quarter: str, region: str | Scope, lang: str = "en", *, as_of: str = "") -> Markdown:
    """The page title: quarter and scope (the region or manager escaped), the question it answers, the as-of date."""
    name = scope_md(region, lang)
    when = f" ({_md_escape(as_of)})" if as_of else ""
    return Markdown(f"# {label('retro_title', lang)} · {_md_escape(str(quarter))} · {name}\n\n"
                    f"*{label('retro_question', lang)}*{when}")


def sentences(facts: list[Finding], lang: str = "en", *, currency: str = "CNY") -> list[str]:
    """The findings as plain sentences in `lang` (en or zh), money in `currency` (ISO 4217)."""
    return [_sentence(f, lang, currency) for f in facts]


def findings(kpis: pd.DataFrame, *, quarter: str, effects: pd.DataFrame | None = None,
             concentration_table: pd.DataFrame | None = None, forecast: pd.DataFrame | None = None,
             backtest: pd.DataFrame | None = None, attainment_table: pd.DataFrame | None = None,
             lang: str = "en", settings: RetroSettings | None = None, currency: str = "CNY") -> list[str]:
    """3–8 plain-language findings (``workbench.retro.finding_facts``) worded in `lang`."""
    facts = finding_facts(kpis, quarter=quarter, effects=effects, concentration_table=concentration_table,
                          forecast=forecast, backtest=backtest, attainment_table=attainment_table,
                          settings=settings)
    return sentences(facts, lang, currency=currency)


def _fmt_value(kpi: str, v: float) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    if kpi in ("repeat_rate", "retention_rate", "top1_share", "top5_share"):
        return f"{100 * v:.1f}%"
    if kpi == "hhi":
        return f"{v:.3f}"
    if kpi == "satisfaction_mean":
        return f"{v:.1f}"
    return f"{v:,.0f}"


def _fmt_change(kpi: str, change: float, pct: float) -> str:
    if kpi in RATE_KPIS:
        if change is None or not np.isfinite(change):
            return "–"
        if kpi == "satisfaction_mean":
            return f"{change:+.1f}"
        if kpi == "hhi":
            return f"{change:+.3f}"
        return f"{100 * change:+.1f} pp"
    return _pct(pct)


def kpi_wide(kpis: pd.DataFrame, *, dimension: str = "overall", group: str = "all",
             lang: str = "en", formatted: bool = True, currency: str = "CNY") -> pd.DataFrame:
    """Display form of ``workbench.retro.kpi_table`` for one group: a row per KPI (labelled in `lang`), a column
    per quarter, then the last quarter's QoQ and YoY change, target and attainment (达成率).

    With `formatted` the cells are display strings (money with separators, rates in %, changes of
    rates in percentage points "pp", other changes in %); otherwise numbers (changes of rates as
    differences, other changes as fractions).
    """
    k = kpis[(kpis["dimension"] == dimension) & (kpis["group"] == group)]
    if k.empty:
        return pd.DataFrame()
    wide = k.pivot(index="kpi", columns="quarter", values="value")
    quarters = list(wide.columns)
    last = k[k["quarter"] == k["quarter"].max()].set_index("kpi").reindex(wide.index)
    order = [x for x in KPI_ORDER if x in wide.index]
    wide, last = wide.loc[order], last.loc[order]
    if formatted:
        out = pd.DataFrame({q: [_fmt_value(i, v) for i, v in wide[q].items()] for q in quarters}, index=order)
        out[label("qoq", lang)] = [_fmt_change(i, r["qoq_change"], r["qoq_pct"]) for i, r in last.iterrows()]
        out[label("yoy", lang)] = [_fmt_change(i, r["yoy_change"], r["yoy_pct"]) for i, r in last.iterrows()]
        out[label("target", lang)] = [_fmt_value(i, v) if pd.notna(v) else "" for i, v in last["target"].items()]
        out[label("attainment", lang)] = [f"{100 * v:.0f}%" if pd.notna(v) else "" for v in last["attainment"]]
    else:
        out = wide.copy()
        is_rate = out.index.isin(list(RATE_KPIS))
        out[label("qoq", lang)] = np.where(is_rate, last["qoq_change"], last["qoq_pct"])
        out[label("yoy", lang)] = np.where(is_rate, last["yoy_change"], last["yoy_pct"])
        out[label("target", lang)] = last["target"]
        out[label("attainment", lang)] = last["attainment"]
    out.index = [kpi_label(x, lang, currency) for x in order]
    out.index.name = None
    out.columns.name = None
    return out




def table(frame: pd.DataFrame, lang: str = "en", *, max_rows: int = 30, index: bool = False,
          currency: str = "CNY") -> Html:
    """An HTML table of `frame` for `lang` (shown rendered in a notebook): column names and known values
    (regions, tiers, action and conflict types) labelled, money columns titled in `currency`, values
    HTML-escaped, numbers formatted; an empty frame is one dash."""
    if frame is None or frame.empty:
        return Html("<p>–</p>")
    df = frame.head(max_rows).copy()
    for c in df.columns:
        if df[c].dtype == object or str(df[c].dtype).startswith(("string", "str")):
            df[c] = df[c].map(lambda v: label(f"act_{v}", lang) if f"act_{v}" in ALL_LABELS
                              else (label(v, lang) if isinstance(v, str) and v in ALL_LABELS else v))
    df = df.rename(columns={c: kpi_label(str(c), lang, currency) for c in df.columns})
    if index:
        df.index = [label(str(i), lang) for i in df.index]
    return Html(df.to_html(index=index, escape=True, border=0, classes="dataframe wb-table", na_rep="–",
                           float_format=lambda x: f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"))

