"""Words for the incentive what-if and the rebate audit: labels, sentences and tables in en / zh.

Analysis (``workbench.incentives``, ``workbench.rebates``) returns language-neutral frames, figures and
codes; this module turns them into what notebook 04, the rebate audit and the CLI show. Money is in the
store's currency (``workbench.vocab.store_currency``); column names never reach a page untranslated.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import pandas as pd

from workbench.i18n import label
from workbench.present import Html, Markdown, display_table, register_labels, register_notices
from workbench.vocab import DEFAULT_CURRENCY, money_label, symbol

__all__ = [
    "LABELS",
    "MONEY_COLUMNS",
    "money",
    "notice",
    "partner_table",
    "response_sentence",
    "group_response_markdown",
    "group_response_table",
    "pull_forward_markdown",
    "scenario_table",
    "summary_line",
]

LABELS: dict[str, tuple[str, str]] = {
    # headings and text (money labels carry no currency: money_label adds the store's)
    "i_title": ("Incentive what-if", "激励方案模拟"),
    "i_question": ("Will this rebate program pay for itself, and what is the best use of the budget?",
                   "这个返利方案能否回本？预算怎样用效果最好？"),
    "i_response": ("Estimated sales response", "销量响应估计"),
    "i_response_assumed": ("Assumed sales response", "假定的销量响应"),
    "i_response_text": ("Each extra rebate point moves quarter sales by", "每增加一个返利百分点，季度销售额变化"),
    "i_program": ("Program", "方案"),
    "i_scenario": ("Scenario", "方案"),
    "i_scenarios": ("Scenarios side by side", "方案对比"),
    "i_current": ("Current program", "现行方案"),
    "i_group": ("Group", "分组"),
    "i_partners": ("Partners", "经销商数"),
    "i_eligible": ("Eligible", "符合条件"),
    "i_cost": ("Incentive cost", "激励成本"),
    "i_incremental_sales": ("Incremental sales", "增量销售额"),
    "i_incremental_margin": ("Incremental gross margin", "增量毛利"),
    "i_net_margin": ("Net incremental margin", "净增量毛利"),
    "i_roi": ("ROI", "投资回报率"),
    "i_p_roi_positive": ("P(ROI > 0)", "回报为正的概率"),
    "i_low": ("low (5%)", "下限（5%）"),
    "i_high": ("high (95%)", "上限（95%）"),
    "i_delta_net_margin": ("Net margin vs current", "相对现行方案的净毛利"),
    "i_p_better": ("P(better than current)", "优于现行方案的概率"),
    "i_margin_pct": ("Gross margin (%)", "毛利率（%）"),
    "i_budget": ("Budget", "预算"),
    "i_frontier": ("Budget → incremental margin frontier", "预算—增量毛利前沿"),
    "i_break_even": ("break-even (margin = cost)", "盈亏平衡（毛利 = 成本）"),
    "i_optimized": ("Optimized for the budget", "预算内最优方案"),
    "i_rates": ("Rates per volume tier", "各量级返利率"),
    "i_rate": ("Rate (%)", "返利率（%）"),
    "i_threshold": ("Threshold", "门槛"),
    "i_tier_k": ("Volume tier", "量级"),
    "i_chart_roi": ("ROI distribution over the simulation draws", "模拟抽样的投资回报率分布"),
    "i_chart_cost": ("Cost distribution over the simulation draws", "模拟抽样的激励成本分布"),
    "i_chart_by_tier": ("Expected net incremental margin by partner tier", "各层级预期净增量毛利"),
    "i_chart_by_region": ("Expected net incremental margin by region", "各区域预期净增量毛利"),
    "i_draws": ("Draws", "抽样次数"),
    "i_by_tier": ("By partner tier", "按经销商层级"),
    "i_by_region": ("By region", "按区域"),
    "i_top_partners": ("Largest expected payouts", "预期返利最高的经销商"),
    "i_expected_payout": ("Expected payout", "预期返利"),
    "i_baseline_sales": ("Baseline sales", "基线销售额"),
    "i_expected_sales": ("Expected sales", "预期销售额"),
    "i_export": ("Export scenario", "导出方案"),
    "i_exported": ("Scenario written to", "方案已保存至"),
    "i_explorer": ("Try other rates, thresholds and margin (live notebook only)",
                   "调整返利率、门槛和毛利率（仅交互式笔记本）"),
    "i_chosen": ("Chosen scenario (YAML)", "选定方案（YAML）"),
    "i_summary": ("Summary", "概要"),
    "i_no_data": ("Nothing to show", "暂无数据"),
    "i_partner_quarters": ("partner-quarters", "个经销商季度"),
    "i_network_fit": ("estimated on the whole network, the region has too little history",
                      "因本区域历史数据不足，按全网估计"),
    "unassigned": ("Unassigned", "未分层"),
    "i_by_group": ("Response by tier and size class", "按层级和规模的销量响应"),
    "i_by_group_text": (
        "Each group's response is estimated in one fixed-effects regression and then pulled toward the network "
        "response in proportion to its uncertainty (partial pooling): thin groups borrow from the network. The "
        "simulation below uses them: each partner responds with the network response plus its tier's and size "
        "class's pooled deviation.",
        "各组响应在同一个固定效应回归中估计，再按其不确定性向全网响应收缩（部分汇总）：样本少的组更多借用全网估计。"
        "下面的模拟采用这些结果：每家经销商的响应 = 全网响应 + 其层级与规模等级的收缩后偏差。"),
    "i_pull_forward": ("Pull-forward check", "提前拉货检查"),
    "dimension": ("Grouped by", "分组方式"),
    "size_class": ("Size class", "规模等级"),
    "small": ("Small", "小"),
    "mid": ("Mid", "中"),
    "large": ("Large", "大"),
    "n_partners": ("Partners", "经销商数"),
    "n_obs": ("Partner-quarters", "经销商季度数"),
    "estimate_raw": ("Own estimate", "本组估计"),
    "estimate": ("Response (pooled)", "响应（部分汇总）"),
    "ci_low": ("95% low", "95% 下限"),
    "ci_high": ("95% high", "95% 上限"),
    "weight": ("Weight on own estimate", "本组估计权重"),
    # what-if frame columns (partner_outcomes, whatif_table)
    "baseline_sales_cny": ("Baseline sales", "基线销售额"),
    "expected_sales_cny": ("Expected sales", "预期销售额"),
    "incremental_sales_cny": ("Incremental sales", "增量销售额"),
    "incremental_sales_low_cny": ("Incremental sales, low (5%)", "增量销售额下限（5%）"),
    "incremental_sales_high_cny": ("Incremental sales, high (95%)", "增量销售额上限（95%）"),
    "expected_payout_cny": ("Expected payout", "预期返利"),
    "payout_low_cny": ("Payout, low (5%)", "返利下限（5%）"),
    "payout_high_cny": ("Payout, high (95%)", "返利上限（95%）"),
    "payout_cny": ("Payout", "返利"),
    "eligible": ("Eligible", "符合条件"),
    "payment_date": ("Payment date", "支付日期"),
    "cost_cny": ("Incentive cost", "激励成本"),
    "incremental_margin_cny": ("Incremental gross margin", "增量毛利"),
    "net_margin_cny": ("Net incremental margin", "净增量毛利"),
    "delta_net_margin_cny": ("Net margin vs current", "相对现行方案的净毛利"),
    "roi": ("ROI", "投资回报率"),
    "p_roi_positive": ("P(ROI > 0)", "回报为正的概率"),
    "p_better": ("P(better than current)", "优于现行方案的概率"),
    "scenario": ("Scenario", "方案"),
    "group": ("Group", "分组"),
}
register_labels("incentives", LABELS)

# Columns of the what-if frames that hold money (shown with the store's currency symbol).
MONEY_COLUMNS: tuple[str, ...] = (
    "baseline_sales_cny", "expected_sales_cny", "incremental_sales_cny", "incremental_sales_low_cny",
    "incremental_sales_high_cny", "expected_payout_cny", "payout_low_cny", "payout_high_cny", "payout_cny",
    "cost_cny", "incremental_margin_cny", "net_margin_cny", "delta_net_margin_cny",
)

_REASONS: dict[str, tuple[str, str]] = {
    "no_ledger": ("the store has no incentive ledger", "数据库中没有返利台账"),
    "no_variation": ("the rebate rate in the ledger never varied between partners",
                     "台账中的返利率在经销商之间从未变化"),
    "too_little_history": ("the history is too short to estimate it", "历史数据太短，无法估计"),
}


def money(x: float, currency: str = DEFAULT_CURRENCY, lang: str = "en") -> str:
    """A compact amount for sentences: '£1.23M' / '¥1.23万'; NaN → '–'."""
    if x is None or pd.isna(x):
        return "–"
    sym, v = symbol(currency), float(x)
    sign = "-" if v < 0 else ""
    units = (("亿", 1e8), ("万", 1e4)) if lang == "zh" else (("bn", 1e9), ("M", 1e6), ("k", 1e3))
    for unit, div in units:
        if abs(v) >= div:
            return f"{sign}{sym}{abs(v) / div:,.2f}{unit}"
    return f"{sign}{sym}{abs(v):,.0f}"


def response_sentence(model: Any, lang: str = "en", *, region: str | None = None) -> Markdown:
    """The response section: estimate with its interval and sample, or the stated prior, labelled assumed.

    model: a fitted RebateResponseModel or AssumedResponse (beta_, ci_, source_, reason_, scope_, …).
    """
    zh = lang == "zh"
    lo, hi = model.ci_
    if getattr(model, "source_", "estimated") == "assumed":
        why = _REASONS.get(getattr(model, "reason_", None) or "too_little_history", _REASONS["too_little_history"])
        if zh:
            text = (f"## {label('i_response_assumed', lang)}\n\n**假定值，并非根据您的数据估计**：{why[1]}，"
                    f"因此采用方案设定的先验响应：每增加一个返利百分点，季度销售额变化 **{model.beta_:+.1%}**"
                    f"（95% 区间 {lo:+.1%} … {hi:+.1%}）。返利金额仍按方案规则精确计算；增量销售额与回报率取决于这一假定。")
        else:
            text = (f"## {label('i_response_assumed', lang)}\n\n**Assumed, not estimated from your data**: {why[0]}, "
                    f"so the response is the program's stated prior — each extra rebate point moves quarter sales by "
                    f"**{model.beta_:+.1%}** (95% interval {lo:+.1%} … {hi:+.1%}). Payouts are still computed "
                    "exactly from the program's rules; incremental sales and ROI rest on this assumption.")
        return Markdown(text)
    scope = getattr(model, "scope_", "all")
    network = region not in (None, "", "all") and scope == "all"
    tail = f"; {label('i_network_fit', lang)}" if network else ""
    if zh:
        return Markdown(
            f"## {label('i_response', lang)}\n\n{label('i_response_text', lang)} **{model.beta_:+.1%}**"
            f"（95% 置信区间 {lo:+.1%} … {hi:+.1%}；{model.n_obs_:,} {label('i_partner_quarters', lang)}，"
            f"{model.n_partners_:,} 家经销商）{tail.replace('; ', '；')}。"
        )
    return Markdown(
        f"## {label('i_response', lang)}\n\n{label('i_response_text', lang)} **{model.beta_:+.1%}** "
        f"(95% CI {lo:+.1%} … {hi:+.1%}; {model.n_obs_:,} {label('i_partner_quarters', lang)}, "
        f"{label('i_partners', lang)} {model.n_partners_:,}){tail}."
    )


def summary_line(figures: Mapping[str, Any], lang: str = "en", *, currency: str = DEFAULT_CURRENCY) -> str:
    """One sentence: cost, incremental sales and margin with 90% intervals, ROI, P(ROI > 0), the response.

    figures: ``workbench.incentives.summary_figures`` (plain text; escape it for HTML, Markdown-safe
    program names are the caller's concern via :func:`summary_markdown`).
    """
    f = figures

    def m(key: str) -> str:
        return money(f[key], currency, lang)

    assumed = f.get("response_source") == "assumed"
    q = f.get("quarter") or ""
    if lang == "zh":
        beta = ""
        if "beta" in f:
            beta = (f"；销量响应 {f['beta']:.4f} ± {f['beta_se']:.4f}（每个返利百分点的对数销售额变化"
                    f"{'，假定值，并非根据您的数据估计' if assumed else ''}）")
        pulled = (f"（已扣除从下季度提前拉动的 {m('pulled_forward_cny')}）"
                  if f.get("pulled_forward_cny", 0) > 0.5 else "")
        return (
            f"{f['program']}（{q}）：{f['partners']:,} 家经销商，预期成本 {m('cost_cny')}"
            f"（90% 区间 {m('cost_low_cny')} 至 {m('cost_high_cny')}），增量销售额 {m('incremental_sales_cny')}"
            f"（90% 区间 {m('incremental_sales_low_cny')} 至 {m('incremental_sales_high_cny')}）{pulled}，毛利率 "
            f"{f['margin_pct']:g}% 时增量毛利 {m('incremental_margin_cny')}，投资回报率 {f['roi']:+.0%}，"
            f"回报为正的概率 {f['p_roi_positive']:.0%}{beta}。"
        )
    beta = ""
    if "beta" in f:
        beta = (f"; response {f['beta']:.4f} ± {f['beta_se']:.4f} ln-sales per pp"
                f"{' (assumed, not estimated from your data)' if assumed else ''}")
    pulled = (f" after removing {m('pulled_forward_cny')} pulled forward from the next quarter"
              if f.get("pulled_forward_cny", 0) > 0.5 else "")
    return (
        f"{f['program']}{' in ' + q if q else ''}: {f['partners']:,} partners, expected cost "
        f"{m('cost_cny')} (90% {m('cost_low_cny')} to {m('cost_high_cny')}), incremental sales "
        f"{m('incremental_sales_cny')} (90% {m('incremental_sales_low_cny')} to {m('incremental_sales_high_cny')})"
        f"{pulled}, "
        f"incremental gross margin {m('incremental_margin_cny')} at {f['margin_pct']:g}% margin, "
        f"ROI {f['roi']:+.0%} with P(ROI > 0) = {f['p_roi_positive']:.0%}{beta}."
    )


def summary_markdown(figures: Mapping[str, Any], lang: str = "en", *, currency: str = DEFAULT_CURRENCY) -> Markdown:
    """The summary section: heading plus :func:`summary_line`, HTML-escaped (program names are user text)."""
    return Markdown(f"## {label('i_summary', lang)}\n\n" + html.escape(summary_line(figures, lang, currency=currency)))


def scenario_table(summary: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY) -> Html:
    """Summary / comparison rows as an escaped table: scenario or group, cost, sales, margins, ROI.

    summary: ``SimulationResult.summary`` or ``compare_scenarios`` rows.
    """
    cols = ["scenario", "group", "cost_cny", "incremental_sales_cny", "incremental_margin_cny", "net_margin_cny",
            "roi", "p_roi_positive", "delta_net_margin_cny", "p_better"]
    keep = [c for c in cols if c in summary.columns]
    if "group" in keep and summary["group"].eq("all").all():
        keep.remove("group")
    elif "group" in keep and "scenario" in keep and summary["scenario"].nunique() == 1:
        keep.remove("scenario")
    return display_table(summary[keep], lang, currency=currency, money=[c for c in keep if c in MONEY_COLUMNS],
                         percent=[c for c in ("roi", "p_roi_positive", "p_better") if c in keep],
                         codes=["group"] if "group" in keep else ())


def partner_table(outcomes: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY, n: int = 15) -> Html:
    """The `n` partners with the largest expected payout (partner_outcomes rows), escaped and translated."""
    cols = ["partner_id", "name", "region", "tier", "baseline_sales_cny", "expected_payout_cny", "payout_low_cny",
            "payout_high_cny", "incremental_sales_cny"]
    top = outcomes.nlargest(n, "expected_payout_cny")[[c for c in cols if c in outcomes.columns]]
    return display_table(top, lang, currency=currency, money=[c for c in top.columns if c in MONEY_COLUMNS],
                         codes=[c for c in ("region", "tier") if c in top.columns])


def group_response_table(model: Any, lang: str = "en") -> Html:
    """GroupResponseModel.summary_ as a table: response per pp (pooled) with its interval, own estimate, weight."""
    s = model.summary_[["dimension", "group", "n_partners", "n_obs", "estimate", "ci_low", "ci_high",
                        "estimate_raw", "weight"]].copy()
    for c in ("estimate", "ci_low", "ci_high", "estimate_raw"):
        s[c] = s[c].map(lambda v: f"{v:+.1%}")
    return display_table(s, lang, percent=["weight"], codes=["dimension", "group"])


def group_response_markdown(model: Any, lang: str = "en") -> Markdown:
    """Heading and one paragraph for the response by group, with the network value."""
    mu = model.network_[0]
    net = f"（全网 {mu:+.1%}）" if lang == "zh" else f" (network {mu:+.1%}.)"
    return Markdown(f"## {label('i_by_group', lang)}\n\n{label('i_by_group_text', lang)}{net}")


def pull_forward_markdown(check: Any, figures: Mapping[str, Any] | None, lang: str = "en", *,
                          currency: str = DEFAULT_CURRENCY) -> Markdown:
    """The pull-forward section: what the store's orders show, and how much the what-if removed."""
    zh = lang == "zh"
    pulled, se, n = check.pulled_cny_, check.se_cny_, check.n_near_
    clear = pulled > 2 * se and pulled > 0
    amt, share = money(pulled, currency, lang), f"{check.share_pct_:.1f}%"
    if check.mode_ == "threshold":
        if zh:
            seen = (f"季度销售额刚刚超过量级门槛的经销商（{n:,} 个经销商季度）在下季度头两周的进货比平时少"
                    f" {amt}：约 {share} 的销售额是从下季度提前拉来的。" if clear else
                    f"季度末刚过门槛的经销商（{n:,} 个经销商季度）在下季度初没有明显的进货回落：未见明显的提前拉货。")
        else:
            seen = (f"Partners who ended a quarter just above a volume threshold ({n:,} partner-quarters) bought {amt} "
                    f"less than usual in the first two weeks of the next quarter: about {share} of their sales were "
                    "pulled forward." if clear else
                    f"Partners who ended a quarter just above a volume threshold ({n:,} partner-quarters) show no clear "
                    "dip at the start of the next quarter: no clear sign of orders pulled forward.")
    else:
        if zh:
            seen = (f"下季度头两周的进货普遍低于季度中段：约 {amt}（{share}）的销售额在季度末被提前。" if clear else
                    "季度初的进货与季度中段相比没有明显回落：未见季度末压货。")
        else:
            seen = (f"Partners buy less in the first two weeks of a quarter than mid-quarter: about {amt} ({share}) "
                    "of sales were pulled into the quarter before." if clear else
                    "Orders at the start of a quarter are in line with mid-quarter: no clear sign of period-end stuffing.")
    removed = ""
    if figures is not None and figures.get("pulled_forward_cny", 0.0) < 0.5:
        removed = (" 当前方案的模拟中没有被拉到门槛的销售额，无需扣除。" if zh else
                   " In the what-if no simulated sales were lifted to a threshold, so nothing was removed.")
    elif figures is not None:
        r = money(figures.get("pulled_forward_cny", 0.0), currency, lang)
        removed = (f" 模拟中被拉到门槛的销售额属于提前拉货，已从增量销售额中扣除：{r}。" if zh else
                   f" In the what-if, sales lifted to a threshold are pulled forward and were removed from incremental "
                   f"sales: {r}.")
    return Markdown(f"## {label('i_pull_forward', lang)}\n\n{seen}{removed}")


# The incentive and audit jobs' NotEnoughData sentences in Chinese (pattern of the English sentence → zh).
_ZH_NOTICES: tuple[tuple[str, str], ...] = (
    (r"Response by (.+) needs two groups with (\d+)\+ partners each", "按层级和规模估计响应需要至少两个组、每组至少 {1} 家经销商，且返利率在经销商内部有变化；本节略过。"),
    (r"The response by tier and size class needs an incentive ledger", "按层级和规模估计响应需要返利台账，数据库中没有；本节略过。"),
    (r"The pull-forward check needs two quarters", "提前拉货检查需要至少两个季度、且每个季度之后都有完整的下一季度订单；本节略过。"),
    (r"The store has no orders, so pulled-forward", "数据库中没有订单，无法检查提前拉货。"),
    (r"The store has no orders, so there is no sales history", "数据库中没有订单，没有可用于模拟的销售历史。"),
    (r"The orders start on (\S+), after the last complete quarter", "订单从 {0} 才开始，晚于最近一个完整季度的结束日，没有完整季度可用于模拟。"),
    (r"No partner had sales in the quarter that ended by (\S+),", "截至 {0} 的最近一个完整季度内没有经销商有销售，无法模拟下一季度。"),
    (r"The store has no incentive ledger, so there is nothing to audit", "数据库中没有返利台账，无需核对（模拟页面仍可根据订单和方案精确计算返利）。"),
    (r"The incentive ledger has no rows for (\S+), so", "返利台账中没有 {0} 的记录，无需核对。"),
    (r"The incentive ledger is empty", "返利台账为空，无需核对。"),
)


def notice(exc: BaseException | str, lang: str = "en") -> Markdown:
    """``workbench.present.notice`` (this job's sentences are registered for zh pages)."""
    from workbench.present import notice as shared_notice

    return shared_notice(exc, lang)


def money_title(key: str, lang: str = "en", currency: str = DEFAULT_CURRENCY) -> str:
    """A money label with its currency: 'Incentive cost (GBP)'."""
    return money_label(label(key, lang), currency)


register_notices("incentives", _ZH_NOTICES)
