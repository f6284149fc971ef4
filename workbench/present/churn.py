"""Churn in words: labels, the backtest sentence, reasons and actions, risk and drill-down tables (en/zh).

workbench.churn returns language-neutral frames and codes; this module turns them into what a page
or an exported risk list shows. Money is formatted in the store's currency (`currency`, ISO 4217).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.present import register_labels, register_notices
from workbench.vocab import DEFAULT_CURRENCY, format_money, money_label

__all__ = [
    "LABELS",
    "RISK_COLUMNS",
    "backtest_sentence",
    "backtest_table",
    "design_sentence",
    "scorer_sentence",
    "driver_label",
    "drilldown_display",
    "drilldown_table",
    "per_cutoff_table",
    "value_sentence",
    "value_table",
    "risk_display",
    "risk_heading",
    "threshold_display",
    "model_name",
    "notice",
    "odds_table",
    "reason_words",
    "reasons_table",
    "risk_table",
    "with_words",
]

MODELS: dict[str, tuple[str, str]] = {
    "logit": ("Logistic regression (L2)", "逻辑回归（L2）"),
    "gbm": ("Gradient boosting (calibrated)", "梯度提升树（已校准）"),
    "bg_logit": ("BG/NBD corrected by drivers (logistic)", "BG/NBD 经驱动因素修正（逻辑回归）"),
    "recency_rule": ("Recency rule", "最近下单规则"),
    "cycle_rule": ("Order-cycle rule", "订货周期规则"),
    "bgnbd": ("BG/NBD 1 - P(alive)", "BG/NBD 1 − 存活概率"),
    "bgnbd_horizon": ("BG/NBD P(no order within the horizon)", "BG/NBD 预测期内不下单概率"),
}

# Every model input a page can show: the order drivers and the snapshot features (prefix snap_,
# money suffix _cny dropped before the look-up), so no snake_case reaches a reader. Looked up by
# driver_label, not registered with i18n (other jobs label some of the same columns their own way).
DRIVERS: dict[str, tuple[str, str]] = {
    "recency_days": ("Days since last order", "距上次下单天数"),
    "tenure_days": ("Tenure (days)", "合作天数"),
    "n_order_days": ("Order days to date", "累计下单天数"),
    "median_gap_days": ("Usual days between orders", "通常订货间隔（天）"),
    "cycle_ratio": ("Overdue vs own cycle (×)", "超出自身周期（倍）"),
    "sales_90d": ("Net sales, last 90 days", "近90天净销售额"),
    "sales_prev_90d": ("Net sales, previous 90 days", "前90天净销售额"),
    "sales_365d": ("Net sales, last 12 months", "近12个月净销售额"),
    "sales_change_pct": ("Sales change vs previous 90 days (%)", "销售额环比变化（%）"),
    "order_days_90d": ("Order days, last 90 days", "近90天下单天数"),
    "order_days_prev_90d": ("Order days, previous 90 days", "前90天下单天数"),
    "rebate_overdue": ("Rebates overdue", "逾期未付返利"),
    "sat_last": ("Last satisfaction", "最近满意度"),
    "sat_change": ("Satisfaction change", "满意度变化"),
    "open_conflicts": ("Open conflicts", "未解决冲突"),
    "conflicts_365d": ("Conflicts, last 12 months", "近12个月冲突数"),
    "trainings_365d": ("Trainings, last 12 months", "近12个月培训次数"),
    "bg_p_alive": ("P(still buying), BG/NBD", "仍在采购的概率（BG/NBD）"),
    "bg_expected_orders": ("Expected order days in the horizon, BG/NBD", "预测期内预期下单天数（BG/NBD）"),
    "bg_p_no_order": ("P(no order in the horizon), BG/NBD", "预测期内不下单的概率（BG/NBD）"),
    "bg_T_w": ("Weeks since first order", "距首单周数"),
    "bg_frequency": ("Repeat order days", "复购下单天数"),
    "bg_monetary": ("Sales per repeat order day", "每个复购下单日的销售额"),
    "recency_T_ratio": ("Last order as a share of the history", "末次下单在历史中的位置"),
    "order_rate_w": ("Repeat order days per week", "每周复购下单天数"),
    "gap_cv": ("Irregularity of the gaps between orders", "订货间隔的不规律程度"),
    "overdue_sd": ("Days overdue in standard deviations of the own gaps", "逾期天数（以自身间隔标准差计）"),
    "days_overdue": ("Days a contact is overdue (tier cadence)", "联系逾期天数（按层级节奏）"),
    "mean_gap_days": ("Mean days between orders", "平均订货间隔（天）"),
    "sd_gap_days": ("Spread of the days between orders", "订货间隔标准差（天）"),
    "repeat_sales": ("Sales on repeat order days", "复购日销售额"),
    # snapshot features (workbench.features.SNAPSHOT_COLUMNS)
    "active_180d": ("Active in the last 180 days", "近180天活跃"),
    "orders_90d": ("Orders, last 90 days", "近90天订单数"),
    "orders_180d": ("Orders, last 180 days", "近180天订单数"),
    "orders_365d": ("Orders, last 12 months", "近12个月订单数"),
    "order_lines_365d": ("Order lines, last 12 months", "近12个月订单行数"),
    "active_months_90d": ("Months with orders, last 90 days", "近90天有订单的月数"),
    "active_months_180d": ("Months with orders, last 180 days", "近180天有订单的月数"),
    "active_months_365d": ("Months with orders, last 12 months", "近12个月有订单的月数"),
    "net_sales_90d": ("Net sales, last 90 days", "近90天净销售额"),
    "net_sales_180d": ("Net sales, last 180 days", "近180天净销售额"),
    "net_sales_365d": ("Net sales, last 12 months", "近12个月净销售额"),
    "net_sales_prev_90d": ("Net sales, previous 90 days", "前90天净销售额"),
    "sales_trend_90d_ratio": ("Sales, last 90 days vs previous 90 (ratio)", "近90天销售额/前90天"),
    "sales_slope_6m_per_month": ("Sales trend over 6 months (per month)", "近6个月销售额趋势（每月）"),
    "avg_order_value_365d": ("Average order value, last 12 months", "近12个月平均订单金额"),
    "order_cycle_median_days": ("Usual days between orders", "通常订货间隔（天）"),
    "overdue_ratio": ("Overdue vs own cycle (×)", "超出自身周期（倍）"),
    "product_lines_365d": ("Product lines bought, last 12 months", "近12个月购买产品线数"),
    "gross_sales_365d": ("Gross sales, last 12 months", "近12个月总销售额"),
    "returns_365d": ("Returns, last 12 months", "近12个月退货额"),
    "return_rate_365d": ("Return rate, last 12 months", "近12个月退货率"),
    "discount_depth_365d": ("Average discount, last 12 months", "近12个月平均折扣"),
    "satisfaction_last": ("Last satisfaction", "最近满意度"),
    "satisfaction_change": ("Satisfaction change", "满意度变化"),
    "days_since_survey": ("Days since last survey", "距上次调查天数"),
    "training_pass_rate_365d": ("Training pass rate, last 12 months", "近12个月培训通过率"),
    "conflicts_open": ("Open conflicts", "未解决冲突"),
    "rebate_due": ("Rebates due", "应付返利"),
    "rebate_paid": ("Rebates paid", "已付返利"),
    "rebate_shortfall": ("Rebate shortfall", "返利欠付"),
    "active_outlets": ("Active outlets", "活跃终端数"),
    "actions_90d": ("Maintenance actions, last 90 days", "近90天维护动作"),
    "actions_365d": ("Maintenance actions, last 12 months", "近12个月维护动作"),
    "is_distributor": ("Channel: distributor", "渠道：分销商"),
    "is_wholesaler": ("Channel: wholesaler", "渠道：批发商"),
    "is_dealer": ("Channel: dealer", "渠道：经销商"),
    "is_retailer": ("Channel: retailer", "渠道：零售商"),
    "is_ecommerce": ("Channel: e-commerce", "渠道：电商"),
    "is_key_account": ("Channel: key account", "渠道：大客户"),
    "is_other": ("Channel: other", "渠道：其他"),
}

LABELS: dict[str, tuple[str, str]] = {
    "c_title": ("Churn risk", "流失风险"),
    "c_question": ("Which partners are about to stop reordering, why, and what to do?",
                   "哪些经销商即将停止返单？原因是什么？该怎么做？"),
    "c_no_data": ("No data for this selection.", "当前选择没有数据。"),
    "c_model": ("Model", "模型"),
    "c_model_logit": ("Logistic regression", "逻辑回归"),
    "c_model_gbm": ("Gradient boosting", "梯度提升树"),
    "c_model_bg_logit": ("BG/NBD corrected by drivers", "BG/NBD 经驱动因素修正"),
    "c_model_recency_rule": ("Recency rule", "最近下单规则"),
    "c_model_cycle_rule": ("Order-cycle rule", "订货周期规则"),
    "c_model_bgnbd": ("BG/NBD P(alive)", "BG/NBD 存活概率"),
    "c_model_bgnbd_horizon": ("BG/NBD P(no order in the horizon)", "BG/NBD 预测期内不下单概率"),
    "c_chart_roc": ("ROC curve (backtest, pooled cutoffs)", "ROC 曲线（回测，合并各截点）"),
    "c_chart_calibration": ("Calibration: predicted vs observed churn", "校准：预测与实际流失率"),
    "c_chart_lift": ("Cumulative gains", "累计增益"),
    "c_chart_km": ("Time to churn (Kaplan–Meier)", "流失时间（Kaplan–Meier）"),
    "c_chart_threshold": ("Risk threshold: partners flagged and sales at risk", "风险阈值：预警经销商数与风险销售额"),
    "c_fpr": ("False positive rate", "误报率"),
    "c_tpr": ("True positive rate", "命中率"),
    "c_predicted": ("Predicted churn rate", "预测流失率"),
    "c_observed": ("Observed churn rate", "实际流失率"),
    "c_decile": ("Risk decile", "风险十分位"),
    "c_share_flagged": ("Share of partners flagged", "预警经销商占比"),
    "c_share_captured": ("Churners captured", "捕获的流失经销商占比"),
    "c_months_since_first": ("Months after the start date (two years back)", "自基准日（两年前）起月数"),
    "c_still_ordering": ("Still ordering", "仍在订货"),
    "c_threshold": ("Risk threshold", "风险阈值"),
    "c_partners_flagged": ("Partners flagged", "预警经销商数"),
    "c_sales_at_risk": ("Sales at risk", "风险销售额"),
    "risk": ("Churn risk", "流失风险"),
    "sales_at_risk": ("Sales at risk", "风险销售额"),
    "expected_sales": ("Expected sales in the horizon", "预测期内预期销售额"),
    "clv_12m": ("12-month value (discounted)", "未来12个月价值（折现）"),
    "value_if_active_12m": ("12-month value if it stays", "若留存的12个月价值"),
    "p_alive": ("P(still buying)", "仍在采购的概率"),
    "expected_orders": ("Expected order days in the horizon", "预测期内预期下单天数"),
    "reasons": ("Top reasons", "主要原因"),
    "action": ("Recommended action", "建议行动"),
    "c_backtest": ("Backtest (mean over cutoffs)", "回测（各截点平均）"),
    "c_risk_list": ("Risk list", "风险名单"),
    "c_drilldown": ("Partner drill-down", "经销商详情"),
    "c_survival": ("Survival view", "存续视图"),
    "c_odds": ("What drives churn: odds ratios per standard deviation", "流失驱动因素：每个标准差的优势比"),
    "c_partners_scored": ("Partners scored", "评分经销商数"),
    "partners_flagged": ("Partners flagged", "预警经销商数"),
    "share_flagged": ("Share flagged", "预警占比"),
    "sales_at_risk_flagged": ("Sales at risk flagged", "预警风险销售额"),
    "share_churners_captured": ("Churners captured (backtest)", "捕获的流失经销商占比（回测）"),
    "c_expected_sar": ("Expected sales at risk", "预期风险销售额"),
    "feature": ("Driver", "驱动因素"),
    "odds_ratio_per_sd": ("Odds ratio per SD", "每标准差优势比"),
    "coef_per_sd": ("Log-odds per SD", "每标准差对数优势"),
    "roc_auc": ("ROC AUC", "ROC AUC"),
    "pr_auc": ("PR AUC", "PR AUC"),
    "brier": ("Brier score", "Brier 分数"),
    "top10_capture": ("Churners in top 10%", "前10%捕获率"),
    "churn_rate": ("Churn rate", "流失率"),
    "label": ("Model", "模型"),
    "kind": ("Kind", "类型"),
    "candidate": ("candidate", "候选模型"),
    "baseline": ("baseline", "基准"),
    "cutoff": ("Cut-off", "截点"),
    "c_no_partners": ("No partner was active in the 180 days before the scoring date, so nobody is scored.",
                      "评分日前180天内没有活跃经销商，无人可评分。"),
    "c_value_backtest": ("Expected sales, backtested", "预期销售额回测"),
    "method": ("Method", "方法"),
    "spearman": ("Rank correlation (Spearman)", "秩相关（Spearman）"),
    "top20_capture": ("Actual sales held by the top 20% predicted", "预测前20%占实际销售额比例"),
    "total_ratio": ("Total predicted / actual", "预测总额/实际总额"),
    "c_default_action": ("keep the regular contact rhythm", "保持常规拜访节奏"),
    "c_unexplained_action": ("call to check in: no single warning sign explains the risk",
                             "电话回访：风险较高但没有单一预警信号"),
}
register_labels("churn", LABELS)


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "zh" else pair[0]


def model_name(model: str, lang: str = "en") -> str:
    """Display name of a backtest model code ('logit', 'bgnbd', ...) in `lang`."""
    pair = MODELS.get(model)
    return _pick(pair, lang) if pair else str(model)


def driver_label(column: str, lang: str = "en") -> str:
    """Display name of a model input (driver, snap_ snapshot feature or channel dummy) in `lang`."""
    key = column.removeprefix("snap_")
    for k in (key, key.replace("_cny", "")):
        if k in DRIVERS:
            return _pick(DRIVERS[k], lang)
    text = key.replace("_cny", "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


_ZH_NOTICES: tuple[tuple[str, str], ...] = (
    (r"The orders span (\d+) days \((\S+) to (\S+)\); an out-of-time backtest with a (\d+)-day horizon needs at "
     r"least (\d+)", "订单历史共 {0} 天（{1} 至 {2}）；预测期 {3} 天的样本外回测至少需要 {4} 天，因此下方风险名单仅按 "
     "BG/NBD 模型排序，未经回测。"),
    (r"A backtest needs two cutoffs at least (\d+) days apart", "回测需要两个相隔至少 {0} 天且结果已知的截点；"
     "历史太短，风险名单未经回测。"),
    (r"No partner was active at the backtest's cut-offs", "回测截点上没有活跃经销商，风险名单未经回测。"),
    (r"The survival view follows partners from a start date with (\d+) days of orders before it; the orders start "
     r"on (\S+), too late for a start date before (\S+)\.", "存续视图从一个之前有 {0} 天订单历史的起始日跟踪经销商；"
     "订单从 {1} 才开始，来不及在 {2} 之前设起始日。"),
    (r"The store holds no orders in this scope", "当前范围内没有订单，无法显示流失风险。"),
    (r"No partner was active before the cut-off", "截点前没有活跃经销商，无人可评分。"),
)


def notice(exc: BaseException | str, lang: str = "en") -> Any:
    """``workbench.present.notice`` (this job's sentences are registered for zh pages)."""
    from workbench.present import notice as shared_notice

    return shared_notice(exc, lang)


def backtest_sentence(bt: Any, lang: str = "en") -> str:
    """One sentence naming the backtest winner and by how much it beats the runner-up (mean ROC AUC)."""
    from workbench.churn import paired_wins

    s = bt.summary
    if not bt.ranked:
        if lang == "zh":
            return "回测的每个截点上经销商要么全部流失、要么全部留存，无法在样本外比较模型；风险名单改用 BG/NBD 模型。"
        return ("At every backtest cut-off either every partner churned or none did, so no model can be ranked "
                "out of time; the risk list uses the BG/NBD model instead.")
    top, second = s.iloc[0], s.iloc[1]
    wins = paired_wins(bt.metrics, top["model"], second["model"])
    n = len(bt.plan)
    if lang == "zh":
        return (
            f"回测胜出：{model_name(top['model'], 'zh')}，{n} 个截点平均 ROC AUC {top['roc_auc']:.3f}，"
            f"比第二名{model_name(second['model'], 'zh')}（{second['roc_auc']:.3f}）高 {bt.margin:+.3f}；"
            f"在 {n} 个截点中有 {wins} 个更好。"
        )
    return (
        f"{model_name(top['model'])} wins the backtest with mean ROC AUC "
        f"{top['roc_auc']:.3f} over {n} cutoffs, {bt.margin:+.3f} ahead of "
        f"{model_name(second['model'])} ({second['roc_auc']:.3f}); "
        f"better at {wins} of {n} cutoffs."
    )


def design_sentence(design: Any, lang: str = "en") -> str:
    """One sentence on how a short history changed the backtest ('' when the glossary's design held).

    design: workbench.churn.backtest_design output.
    """
    from workbench.churn import min_history_days

    if not design.short:
        return ""
    least = min_history_days(design.horizon_days)
    if lang == "zh":
        return (f"订单历史较短（{design.history_days} 天），回测改用月末截点、{design.active_days} 天活跃窗口；"
                f"可做样本外回测的最短历史为 {least} 天。")
    return (f"The order history is short ({design.history_days} days), so the backtest uses month-end cut-offs "
            f"and a {design.active_days}-day activity window; the least history for an out-of-time test is "
            f"{least} days.")


def scorer_sentence(scorer: Any, lang: str = "en") -> str:
    """One sentence saying which model scores the risk list and whether it was tested out of time."""
    h = scorer.horizon_days
    if not scorer.validated:
        if lang == "zh":
            return f"风险按 BG/NBD 模型估计的未来 {h} 天不下单概率排序，未经样本外回测检验。"
        return (f"Risk is BG/NBD's probability of no order in the next {h} days; it could not be tested "
                "out of time on this history.")
    if lang == "zh":
        return f"风险由回测胜出的模型（{model_name(scorer.model, 'zh')}）给出，已在最近的截点上重新拟合。"
    return f"Risk comes from the backtest winner ({model_name(scorer.model)}), refitted on the latest cut-offs."


def backtest_table(bt: Any, lang: str = "en") -> pd.DataFrame:
    """The backtest summary for display: model name and kind in `lang`, mean metrics rounded to 3 places."""
    out = bt.summary[["model", "kind", "roc_auc", "pr_auc", "brier", "top10_capture", "churn_rate"]].copy()
    out.insert(0, "label", out.pop("model").map(lambda m: model_name(m, lang)))
    out["kind"] = out["kind"].map(lambda k: _pick(LABELS[k], lang) if k in LABELS else k)
    return out.round(3)


def per_cutoff_table(bt: Any, lang: str = "en") -> pd.DataFrame:
    """ROC AUC per backtest cutoff (rows) and model (columns named in `lang`), rounded to 3 places."""
    m = bt.metrics.pivot_table(index="cutoff", columns="model", values="roc_auc", dropna=False).round(3)
    order = [c for c in bt.summary["model"] if c in m.columns]
    m = m[order]
    m.columns = [model_name(c, lang) for c in m.columns]
    m.index = pd.to_datetime(m.index).strftime("%Y-%m-%d")
    return m.rename_axis("cutoff").reset_index()


VALUE_METHOD_NAMES: dict[str, tuple[str, str]] = {
    "churn_model": ("Churn model × BG/NBD × Gamma-Gamma", "流失模型 × BG/NBD × Gamma-Gamma"),
    "bgnbd_gg": ("BG/NBD × Gamma-Gamma", "BG/NBD × Gamma-Gamma"),
    "trailing": ("Trailing sales", "近期销售额外推"),
}


def value_table(metrics: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The value backtest (workbench.churn.value_metrics) averaged over cutoffs, one row per method, best
    Spearman first: method named in `lang`, spearman, top20_capture, total_ratio."""
    m = metrics.groupby("method", sort=False)[["spearman", "top20_capture", "total_ratio"]].mean()
    m = m.sort_values("spearman", ascending=False).round(3).reset_index()
    m["method"] = m["method"].map(lambda k: _pick(VALUE_METHOD_NAMES[k], lang) if k in VALUE_METHOD_NAMES else k)
    return m


def value_sentence(lang: str = "en", horizon_days: int = 90) -> str:
    """One sentence saying what the value backtest compares."""
    if lang == "zh":
        return (f"预期销售额的回测：各截点预测的未来 {horizon_days} 天非退货销售额与实际销售额比较"
                "（秩相关、预测前20%经销商占实际销售额的比例、预测总额/实际总额）。")
    return (f"Expected sales, backtested: the non-return sales predicted for the next {horizon_days} days at each "
            "cut-off against what partners then bought (rank correlation, share of actual sales held by the top "
            "20% predicted, total predicted / total actual).")


def odds_table(bt: Any, *, lang: str = "en", top: int = 12) -> pd.DataFrame:
    """The strongest odds ratios of the last logit in the backtest, with readable driver names."""
    o = bt.odds.head(top).copy()
    return pd.DataFrame({
        "feature": o["feature"].map(lambda f: driver_label(str(f), lang)),
        "odds_ratio_per_sd": o["odds_ratio_per_sd"].astype(float).round(3),
        "coef_per_sd": o["coef_per_sd"].astype(float).round(3),
    })


def _int(v: pd.Series) -> pd.Series:
    return v.round().fillna(0).astype(int).astype(str)


def reason_words(df: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY) -> dict[str, pd.Series]:
    """Per reason code: the warning sign in plain words for each row of a frame holding the drivers."""
    chg = df["sales_change_pct"]
    gap = df["median_gap_days"]
    rec = _int(df["recency_days"])
    ratio = df["cycle_ratio"].round(1).astype(str)
    conf = _int(df["open_conflicts"])
    rebate = df["rebate_overdue"].map(lambda v: format_money(v, currency, lang=lang))
    lapse = _int(df["days_overdue"]) if "days_overdue" in df.columns else pd.Series("0", index=df.index)
    if lang == "zh":
        overdue = "已 " + rec + " 天未下单" + np.where(
            gap.notna(), "，是其通常 " + _int(gap) + " 天订货周期的 " + ratio + " 倍", "")
        words = {
            "orders_down": "订货额比前90天下降 " + _int(-chg) + "%",
            "overdue": overdue,
            "rebate_unpaid": rebate + " 返利未付",
            "satisfaction_fell": "满意度下降 " + _int(-df["sat_change"]) + " 分",
            "low_satisfaction": "满意度偏低（" + _int(df["sat_last"]) + "/100）",
            "open_conflict": conf + " 起渠道冲突未解决",
            "no_training": pd.Series("近12个月没有培训", index=df.index),
            "contact_overdue": "联系已逾期 " + lapse + " 天",
        }
    else:
        overdue = "no order for " + rec + " days" + np.where(
            gap.notna(), ", " + ratio + "× its usual " + _int(gap) + "-day cycle", "")
        words = {
            "orders_down": "orders down " + _int(-chg) + "% vs the previous 90 days",
            "overdue": overdue,
            "rebate_unpaid": rebate + " of rebates unpaid",
            "satisfaction_fell": "satisfaction fell " + _int(-df["sat_change"]) + " points",
            "low_satisfaction": "satisfaction low at " + _int(df["sat_last"]) + "/100",
            "open_conflict": conf + np.where(df["open_conflicts"] == 1, " open channel conflict",
                                             " open channel conflicts"),
            "no_training": pd.Series("no training in the last 12 months", index=df.index),
            "contact_overdue": "no visit or call for " + lapse + " days past the tier's rhythm",
        }
    return {k: pd.Series(v, index=df.index) for k, v in words.items()}


def _actions_text(actions: Any, lang: str) -> tuple[dict[str, str], str, str]:
    """Action per reason code, the default action and the unexplained-risk action, in `lang`."""
    zh = lang == "zh"
    act = {c: (r.action_zh or r.action) if zh else r.action for c, r in actions.reasons.items()}
    default = (actions.default_action_zh if zh else actions.default_action) or _pick(LABELS["c_default_action"], lang)
    unexplained = ((actions.unexplained_action_zh if zh else actions.unexplained_action)
                   or _pick(LABELS["c_unexplained_action"], lang))
    return act, default, unexplained


def with_words(
    frame: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY, actions: Any = None
) -> pd.DataFrame:
    """`frame` (a risk list with reason_codes, fallback and the drivers) plus `reasons` and `action` in `lang`."""
    from workbench.churn import load_actions

    actions = actions or load_actions()
    act, default, unexplained = _actions_text(actions, lang)
    out = frame.copy()
    if out.empty:
        return out.assign(reasons=pd.Series(dtype=object), action=pd.Series(dtype=object))
    words = reason_words(out, lang, currency=currency)
    reasons, action = [], []
    for i, (codes, fb) in enumerate(zip(out["reason_codes"], out["fallback"], strict=True)):
        cs = [c for c in str(codes).split(";") if c]
        reasons.append("; ".join(str(words[c].iloc[i]) for c in cs if c in words))
        acts = list(dict.fromkeys(act[c] for c in cs if c in act))
        action.append("; ".join(acts) if acts else (unexplained if fb == "unexplained" else default))
    out["reasons"] = reasons
    out["action"] = action
    return out


def reasons_table(
    frame: pd.DataFrame,
    scorer: Any = None,
    *,
    actions: Any = None,
    lang: str = "en",
    top: int = 3,
    risk: np.ndarray | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> pd.DataFrame:
    """Top `top` reasons in plain words and one action per reason for each partner of a cutoff frame
    (workbench.churn.reasons_table in words): partner_id, reason_codes, reasons, action."""
    from workbench import churn

    actions = actions or churn.load_actions()
    codes = churn.reasons_table(frame, scorer, actions=actions, top=top, risk=risk)
    both = pd.concat([frame.drop(columns=["reason_codes", "fallback"], errors="ignore"),
                      codes[["reason_codes", "fallback"]]], axis=1)
    out = with_words(both, lang, currency=currency, actions=actions)
    return out[["partner_id", "reason_codes", "reasons", "action"]]


RISK_COLUMNS = ["partner_id", "name", "region", "tier", "risk", "sales_at_risk", "expected_sales", "clv_12m",
                "reasons", "action"]


def risk_table(
    detail: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY, actions: Any = None
) -> pd.DataFrame:
    """The risk list as a reader gets it: RISK_COLUMNS with reasons and actions in `lang`.

    detail: workbench.churn.risk_list(..., detail=True) output.
    """
    return with_words(detail, lang, currency=currency, actions=actions)[RISK_COLUMNS]


def risk_heading(risk: pd.DataFrame, scorer: Any, lang: str = "en", *, currency: str = DEFAULT_CURRENCY) -> str:
    """Markdown: the risk-list heading, which model scores it, partners scored and total sales at risk."""
    from workbench.i18n import label

    def total(col: str) -> str:
        v = float(risk[col].sum()) if len(risk) and col in risk.columns else 0.0
        return format_money_md(format_money(v, currency, lang=lang))

    h = getattr(scorer, "horizon_days", 90)
    if lang == "zh":
        value = (f"未来 {h} 天预期销售额 {total('expected_sales')}；未来12个月价值（折现）{total('clv_12m')}；"
                 "风险销售额 = 流失风险 × 若留存的12个月价值。")
    else:
        value = (f"Expected sales in the next {h} days: {total('expected_sales')}; 12-month value (discounted): "
                 f"{total('clv_12m')}. Sales at risk = churn risk × the partner's 12-month value if it stays.")
    return (f"## {label('c_risk_list', lang)}\n\n{scorer_sentence(scorer, lang)} "  # type: ignore[arg-type]
            f"{label('c_partners_scored', lang)}: {len(risk):,} · "  # type: ignore[arg-type]
            f"{label('c_expected_sar', lang)}: {total('sales_at_risk')}\n\n{value}")  # type: ignore[arg-type]


def format_money_md(text: str) -> str:
    """A formatted amount made safe inside Markdown ('$' would open LaTeX in a notebook)."""
    return text.replace("$", "\\$")


def risk_display(risk: pd.DataFrame, lang: str = "en", *, currency: str = DEFAULT_CURRENCY) -> Any:
    """The risk list as an escaped HTML table: risk in %, sales at risk in the store currency, tier and region named."""
    from workbench.present import display_table

    return display_table(risk, lang, currency=currency, money=["sales_at_risk", "expected_sales", "clv_12m"],
                         percent=["risk"], scores=[c for c in ("sat_last", "satisfaction_last") if c in risk.columns],
                         codes=[c for c in ("tier", "region") if c in risk.columns])


def threshold_display(summary: pd.DataFrame, thresholds: list[float], lang: str = "en", *,
                      currency: str = DEFAULT_CURRENCY) -> Any:
    """widgets.churn.threshold_summary rows at `thresholds` as an escaped HTML table."""
    from workbench.present import display_table

    out = summary.copy()
    out.insert(0, "threshold", thresholds)
    return display_table(out, lang, currency=currency, money=["sales_at_risk_flagged"],
                         percent=["share_flagged", "share_churners_captured"],
                         labels={"threshold": _pick(LABELS["c_threshold"], lang)})


def drilldown_display(detail: pd.DataFrame, partner_id: str, lang: str = "en", *,
                      currency: str = DEFAULT_CURRENCY) -> Any:
    """drilldown_table as an escaped two-column HTML table without a header row."""
    from workbench.present import Html

    t = drilldown_table(detail, partner_id, lang=lang, currency=currency)
    return Html(t.to_html(index=False, header=False, escape=True, na_rep="–"))


DRILL_FIELDS: tuple[str, ...] = (
    "partner_id", "name", "region", "risk", "sales_at_risk", "tier", "reasons", "action",
    "bg_p_alive", "bg_expected_orders", "expected_sales", "clv_12m", "value_if_active_12m",
    "recency_days", "median_gap_days", "cycle_ratio", "sales_90d", "sales_prev_90d",
    "sales_365d", "rebate_overdue", "sat_last", "sat_change", "open_conflicts", "trainings_365d",
)
_MONEY_FIELDS = {"sales_at_risk", "sales_90d", "sales_prev_90d", "sales_365d", "rebate_overdue", "expected_sales",
                 "clv_12m", "value_if_active_12m"}
_FIELD_NAMES: Mapping[str, tuple[str, str]] = {
    "risk": ("Churn risk (next horizon)", "流失风险"),
    "sat_last": ("Last satisfaction (0–100)", "最近满意度（0–100）"),
    "sat_change": ("Satisfaction change (points)", "满意度变化（分）"),
}


def _field_name(col: str, lang: str, currency: str) -> str:
    if col in _FIELD_NAMES:
        name = _pick(_FIELD_NAMES[col], lang)
    elif col in LABELS:
        name = _pick(LABELS[col], lang)
    else:
        from workbench.i18n import label

        name = label(col, lang)  # type: ignore[arg-type]
        if name == col:
            name = driver_label(col, lang)
    return money_label(name, currency) if col in _MONEY_FIELDS else name


def drilldown_table(
    detail: pd.DataFrame, partner_id: str, *, lang: str = "en", currency: str = DEFAULT_CURRENCY
) -> pd.DataFrame:
    """One partner's risk, reasons, action and drivers as a two-column table (field, value) for display.

    detail: risk_list(..., detail=True) output, with words (with_words) or without (added here).
    """
    from workbench.errors import WorkbenchError

    row = detail.loc[detail["partner_id"] == partner_id]
    if row.empty:
        raise WorkbenchError(f"Partner {partner_id} is not on the risk list.")
    if "reasons" not in row.columns and "reason_codes" in row.columns:
        row = with_words(row, lang, currency=currency)
    r = row.iloc[0]
    out = []
    for col in DRILL_FIELDS:
        if col not in r.index:
            continue
        v = r[col]
        if col in ("risk", "bg_p_alive"):
            text = "–" if pd.isna(v) else f"{v:.0%}"
        elif col == "tier":
            from workbench.i18n import label

            text = "–" if v is None or pd.isna(v) else label(str(v), lang)  # type: ignore[arg-type]
        elif col in _MONEY_FIELDS:
            text = format_money(v, currency, lang=lang)
        elif isinstance(v, float | np.floating):
            text = "–" if pd.isna(v) else (f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.1f}")
        else:
            text = "–" if v is None or (isinstance(v, float) and pd.isna(v)) or v == "" else str(v)
        out.append({"field": _field_name(col, lang, currency), "value": text})
    return pd.DataFrame(out)


register_notices("churn", _ZH_NOTICES)
