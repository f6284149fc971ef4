"""Words of the report packs: page alerts when a notebook failed, index headings and headline figures."""

from __future__ import annotations

from workbench.i18n import register_labels

__all__ = ["HEADLINE_MIME", "LABELS", "headline", "page_failed", "page_missing", "stopped_here"]

LABELS: dict[str, tuple[str, str]] = {
    "rep_incomplete": ("incomplete", "不完整"),
    "rep_missing": ("not produced", "未生成"),
    "rep_headline": ("Headline figures", "关键数字"),
    "rep_pages": ("Pages", "页面"),
    "rep_monthly_sales": ("Net sales, last month", "上月净销售额"),
    "rep_sales_change": ("Change on the month before", "环比变化"),
    "rep_active_partners": ("Active partners (90 days)", "活跃经销商（90 天）"),
    "rep_risk_count": ("Partners at churn risk ≥ 50%", "流失风险 ≥ 50% 的经销商"),
    "rep_value_at_risk": ("Expected sales at risk", "预期风险销售额"),
    "rep_rebate_discrepancies": ("Rebate ledger rows with a discrepancy", "返利台账差异行数"),
    "rep_rebate_misstated": ("Of which the ledger due is misstated", "其中台账应付金额有误"),
    "rep_rebate_underpaid": ("Rebates underpaid (due, not paid)", "返利少付金额（已到期未付）"),
    "rep_rebate_overpaid": ("Rebates overpaid", "返利多付金额"),
    "rep_alerts": ("Alerts", "预警"),
    "rep_pack": ("Pack", "报告包"),
    "rep_download_xlsx": ("Tables as an Excel workbook", "表格（Excel 工作簿）"),
    "rep_sheet_notes": ("Notes", "说明"),
    "manager": ("Manager", "客户经理"),
}
register_labels("reports", LABELS)


def _short(what: str, limit: int = 160) -> str:
    what = " ".join(str(what).split())
    return what if len(what) <= limit else what[: limit - 1] + "…"


def page_failed(what: str, *, failed_file: str, log_file: str, lang: str = "en") -> str:
    """The one sentence on top of a page whose notebook stopped part-way: what failed and what to do."""
    what = _short(what)
    if lang == "zh":
        return (f"本页不完整：有一个步骤失败（{what}），之前的各节照常显示；请在数据修正后重新生成报告，"
                f"或将本文件夹中的 {failed_file} 和 {log_file} 发给分析人员。")
    return (f"This page is incomplete because one step failed ({what}); the sections before it are shown — "
            f"re-run the report once the data is fixed, or send {failed_file} and {log_file} from this folder "
            "to your analyst.")


def page_missing(what: str, *, log_file: str, lang: str = "en") -> str:
    """The one sentence of a page whose notebook could not run at all."""
    what = _short(what)
    if lang == "zh":
        return f"本页未能生成（{what}）；请将本文件夹中的 {log_file} 发给分析人员。"
    return f"This page could not be produced ({what}); send {log_file} from this folder to your analyst."


def stopped_here(lang: str = "en") -> str:
    """Markdown note put where a page's notebook stopped."""
    return "> **本页在此处停止。**" if lang == "zh" else "> **The page stops here.**"


HEADLINE_MIME = "application/vnd.workbench.headline+json"


class Headline:
    """Headline figures a notebook publishes for its pack's index (shown nowhere on the page itself):
    ``display(headline(churn_risk_count=12, value_at_risk=34_000.0))``. Not a dict: IPython's plain-text
    formatter would print a dict's repr ("{'churn_risk_count': 12, ...}") beside the bundle, onto the page."""

    def __init__(self, figures: dict[str, float | int | None]) -> None:
        self.figures = dict(figures)

    def __getitem__(self, key: str) -> float | int | None:
        return self.figures[key]

    def __eq__(self, other: object) -> bool:
        return self.figures == (other.figures if isinstance(other, Headline) else other)

    def _repr_mimebundle_(self, include=None, exclude=None):  # noqa: ANN001, ANN201 - IPython protocol
        return {HEADLINE_MIME: dict(self.figures), "text/plain": ""}

    def __repr__(self) -> str:
        return ""


def headline(**figures: float | int | None) -> Headline:
    """Figures for the pack index: churn_risk_count, value_at_risk (store currency), alerts, ... (numbers)."""
    clean: dict[str, float | int | None] = {}
    for k, v in figures.items():
        if v is None:
            clean[k] = None
        else:
            f = float(v)
            clean[k] = int(f) if f.is_integer() and not isinstance(v, float) else f
    return Headline(clean)
