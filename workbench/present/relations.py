"""Words for relationship management (contacts, onboarding, feedback, channel mix) in English and Chinese."""

from __future__ import annotations

import html

import pandas as pd

from workbench.i18n import label
from workbench.present import Html, Markdown, display_table, register_labels

LABELS: dict[str, tuple[str, str]] = {
    "nb_07_relationships": ("Partner relationships", "渠道关系管理"),
    "r_title": ("Partner relationships", "渠道关系管理"),
    "r_question": ("Are we in touch with every partner as often as their tier needs, how fast do new partners "
                   "become productive, what do partners tell us, and do we depend on one channel type?",
                   "是否按层级节奏联系每个经销商？新渠道多快产生业绩？经销商在反馈什么？是否过度依赖单一渠道类型？"),
    "r_contacts": ("Contact cadence", "联系节奏"),
    "r_adherence_tier": ("Adherence by tier", "按层级的执行率"),
    "r_adherence_manager": ("Adherence by channel manager", "按渠道经理的执行率"),
    "r_overdue_list": ("Most overdue partners", "最久未联系的经销商"),
    "r_onboarding": ("Onboarding and activation", "新渠道激活"),
    "r_activation_quarter": ("Partners added and activated per quarter", "每季度新增与激活的经销商"),
    "r_feedback": ("Partner feedback", "经销商反馈"),
    "r_feedback_quotes": ("What partners wrote", "经销商原话"),
    "r_channel_mix": ("Channel-type dependence", "渠道类型依赖度"),
    "r_review": ("Partners to review", "待评估的经销商"),
    "last_contact_date": ("Last contact", "最近联系日期"),
    "days_since_contact": ("Days since contact", "距上次联系天数"),
    "contact_every_days": ("Contact every (days)", "联系周期（天）"),
    "overdue": ("Overdue", "已逾期"),
    "days_overdue": ("Days overdue", "逾期天数"),
    "manager_id": ("Channel manager", "渠道经理"),
    "partners": ("Partners", "经销商数"),
    "contacted_in_cadence": ("Contacted in cadence", "按期联系"),
    "never_contacted": ("Never contacted", "从未联系"),
    "adherence": ("Adherence", "执行率"),
    "cohort": ("Onboarding quarter", "签约季度"),
    "added": ("Added", "新增"),
    "activated": ("Activated within 90 days", "90天内激活"),
    "activation_rate": ("Activation rate", "激活率"),
    "median_days_to_first": ("Median days to first order", "首单中位天数"),
    "window_closed": ("90-day window closed", "90天观察期已满"),
    "theme": ("Theme", "主题"),
    "comments": ("Comments", "评论数"),
    "share": ("Share", "占比"),
    "gap": ("Satisfaction vs all comments (points)", "满意度差（分）"),
    "comment": ("Comment", "评论"),
    "times": ("Times written", "出现次数"),
    "term": ("Word", "词语"),
    "count": ("Count", "次数"),
    "sales_recent": ("Sales, last two quarters", "近两季度销售额"),
    "sales_year_ago": ("Same quarters a year earlier", "上年同期销售额"),
    "change": ("Change", "变化"),
    "rebates_paid": ("Rebates paid, last four quarters", "近四季度已付返利"),
    "contribution": ("Contribution after rebates", "扣除返利后的贡献"),
    "declining": ("Declining", "下滑"),
    "low_satisfaction": ("Low satisfaction", "满意度低"),
    "negative_contribution": ("Negative contribution", "贡献为负"),
    "share_year_ago": ("Share a year earlier", "上年同期占比"),
    "share_change": ("Change in share on a year earlier", "占比同比变化"),
    "share_prev_quarter": ("Share last quarter", "上季度占比"),
    "share_change_qoq": ("Change in share on last quarter", "占比环比变化"),
    "sales_change_qoq": ("Sales change on last quarter", "销售额环比"),
    "hhi": ("Concentration (HHI)", "集中度（HHI）"),
    "month_since_onboard": ("Months since onboarding", "签约后月数"),
    "median_sales": ("Median monthly sales", "月销售额中位数"),
    "new": ("New partners", "新经销商"),
    "mature": ("Mature partners (reference)", "成熟经销商（参照）"),
    "unassigned": ("Unassigned", "未分配"),
    # feedback themes
    "rebate": ("Rebates", "返利"),
    "price": ("Price", "价格"),
    "delivery": ("Delivery", "发货物流"),
    "training": ("Training", "培训"),
    "support": ("Support", "支持服务"),
    "product": ("Product", "产品"),
    "relationship": ("Relationship", "合作关系"),
    "other": ("Other", "其他"),
    # channel types
    "wholesaler": ("Wholesaler", "批发商"),
    "retailer": ("Retailer", "零售商"),
    "ecommerce": ("E-commerce", "电商"),
    "key_account": ("Key account", "大客户"),
    # alerts
    "channel_share_high": ("{channel} makes {value} of net sales (alert above {threshold}).",
                           "{channel}占净销售额的{value}（超过{threshold}即预警）。"),
    "channel_share_drop": ("{channel}'s share fell by {value} points against a year earlier.",
                           "{channel}的占比较上年同期下降{value}个百分点。"),
    "channel_hhi_high": ("Sales depend on few channel types: concentration (HHI) {value} (alert above {threshold}).",
                         "销售集中于少数渠道类型：集中度（HHI）{value}（超过{threshold}即预警）。"),
    "platform_share_high": ("{channel} makes {value} of the platform partners' net sales (alert above {threshold}).",
                            "{channel}占平台经销商净销售额的{value}（超过{threshold}即预警）。"),
    "platform_share_drop": ("{channel}'s share of the platform partners' sales fell by {value} points against a "
                            "year earlier.", "{channel}在平台经销商销售额中的占比较上年同期下降{value}个百分点。"),
    "platform_hhi_high": ("Platform sales depend on few platforms: concentration (HHI) {value} (alert above "
                          "{threshold}).", "平台销售集中于少数平台：集中度（HHI）{value}（超过{threshold}即预警）。"),
    "r_platform_mix": ("E-commerce platform dependence", "电商平台依赖度"),
    "r_platform_note": ("Partners that record a platform only; shares are of their net sales. Same alert "
                        "thresholds as channel types.",
                        "仅含记录了平台的经销商，占比按其净销售额计算；预警阈值与渠道类型相同。"),
    "platform": ("Platform", "平台"),
    "r_no_alerts": ("No channel-dependence alert this quarter.", "本季度无渠道依赖预警。"),
    "r_no_platform_alerts": ("No platform-dependence alert this quarter.", "本季度无平台依赖预警。"),
    "r_no_actions": ("No visits or communications are recorded, so every active partner counts as overdue.",
                     "没有任何拜访或沟通记录，所有活跃经销商均视为逾期。"),
    "r_no_surveys": ("No survey comments are recorded; feedback themes need the surveys table.",
                     "没有问卷评论记录；反馈主题需要问卷表。"),
    "r_no_managers": ("No channel managers are recorded (partners.manager_id is empty).",
                      "未记录渠道经理（partners.manager_id 为空）。"),
    "r_contacts_line": ("{overdue:,} of {partners:,} active partners are overdue for a contact; "
                        "{never:,} were never contacted.",
                        "{partners:,} 家活跃经销商中有 {overdue:,} 家逾期未联系，其中 {never:,} 家从未联系。"),
}
register_labels("relations", LABELS)


def contacts_sentence(status: pd.DataFrame, lang: str = "en") -> Markdown:
    """One sentence: how many active partners are overdue and never contacted."""
    text = label("r_contacts_line", lang).format(
        overdue=int(status["overdue"].sum()), partners=len(status),
        never=int(status["last_contact_date"].isna().sum()))
    return Markdown(text)


def alert_sentence(code: str, channel_type: str | None, value: float, threshold: float, lang: str = "en",
                   *, translate: bool = True) -> str:
    """One channel (or platform) alert (``relations.channel_alerts`` row) as a plain, unescaped sentence in
    `lang`; channel_type is the group the alert is about (a channel type, translated, or a platform name, shown
    as recorded when not `translate`)."""
    named = isinstance(channel_type, str)
    channel = (label(channel_type, lang) if translate else channel_type) if named else ""
    pct = not code.endswith("_hhi_high")
    shown = f"{abs(value) * 100:.1f}%" if pct else f"{value:.2f}"
    limit = f"{abs(threshold) * 100:.0f}%" if pct else f"{threshold:.2f}"
    if code.endswith("_share_drop"):
        shown = f"{abs(value) * 100:.1f}"
    sentence = label(code, lang).format(channel=channel, value=shown, threshold=limit)
    return sentence[:1].upper() + sentence[1:]


def alert_sentences(alerts: pd.DataFrame, lang: str = "en") -> Markdown:
    """The channel (or platform) alerts as a Markdown bullet list (names escaped), or the no-alert line."""
    by = "platform" if "platform" in alerts.columns else "channel_type"
    if alerts.empty:
        return Markdown(label("r_no_platform_alerts" if by == "platform" else "r_no_alerts", lang))
    lines = ["- " + html.escape(alert_sentence(a.code, getattr(a, by), a.value, a.threshold, lang,
                                               translate=by == "channel_type"), quote=False)
             for a in alerts.itertuples()]
    return Markdown("\n".join(lines))


def contacts_table(status: pd.DataFrame, lang: str = "en", *, top: int = 20) -> Html:
    """The most overdue partners as a page table."""
    return display_table(status.head(top), lang, codes=("tier",))


def adherence_table(adherence: pd.DataFrame, lang: str = "en") -> Html:
    """Adherence by a group as a page table (shares as percentages)."""
    return display_table(adherence, lang, percent=("adherence",), codes=("tier",))


def activation_table(by_quarter: pd.DataFrame, lang: str = "en", *, last: int = 8) -> Html:
    """The last `last` onboarding quarters: added, activated, rate, median days."""
    return display_table(by_quarter.tail(last), lang, percent=("activation_rate",), scores=("median_days_to_first",))


def theme_table(summary: pd.DataFrame, lang: str = "en") -> Html:
    """Feedback themes with counts, share and satisfaction gap."""
    return display_table(summary, lang, percent=("share",), codes=("theme",), scores=("satisfaction", "gap"))


def quotes_table(quotes: pd.DataFrame, lang: str = "en") -> Html:
    """Representative comments per theme (escaped by display_table)."""
    return display_table(quotes, lang, codes=("theme",), scores=("satisfaction",))


def channel_table(mix: pd.DataFrame, quarter: str, lang: str = "en", *, currency: str | None = None) -> Html:
    """The quarter's channel types (or platforms, for a mix by platform): net sales and its change on last
    quarter, share, and the share's change on last quarter and on a year earlier."""
    by = "platform" if "platform" in mix.columns else "channel_type"
    cols = [by, "net_sales", "sales_change_qoq", "share", "share_change_qoq", "share_year_ago", "share_change"]
    q = mix.loc[mix["quarter"] == str(quarter), [c for c in cols if c in mix.columns]]
    return display_table(q, lang, currency=currency, money=("net_sales",), owner="relations",
                         percent=("share", "share_year_ago", "share_change", "share_change_qoq", "sales_change_qoq"),
                         codes=("channel_type",))


def review_table(review: pd.DataFrame, lang: str = "en", *, currency: str | None = None, top: int = 20) -> Html:
    """The partner review list (largest contribution loss first)."""
    return display_table(review.head(top), lang, currency=currency,
                         money=("sales_recent", "sales_year_ago", "rebates_paid", "contribution"),
                         percent=("change",), scores=("satisfaction",))
