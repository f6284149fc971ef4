"""Words for ingest's load history, in English and Chinese (the analysis side is ``workbench.ingest``).

``workbench.ingest.list_loads`` returns a language-neutral frame; :func:`loads_table` shows it on a page.
Quarantine reasons stay as ingest writes them (they are data: the sentence a row was refused with).
"""

from __future__ import annotations

import pandas as pd

from workbench.i18n import register_labels
from workbench.present import Html, display_table

__all__ = ["LABELS", "loads_table"]

# labels of the load history (workbench.ingest.LOAD_COLUMNS): key → (English, 中文)
LABELS: dict[str, tuple[str, str]] = {
    "load_id": ("Load", "导入批次"),
    "table": ("Table", "数据表"),
    "file": ("File", "文件"),
    "content_sha256": ("Content SHA-256", "内容校验值 (SHA-256)"),
    "mode": ("Mode", "导入方式"),
    "rows_read": ("Rows read", "读取行数"),
    "rows_accepted": ("Accepted", "接受行数"),
    "rows_quarantined": ("Quarantined", "隔离行数"),
    "rows_inserted": ("New rows", "新增行数"),
    "rows_updated": ("Changed rows", "更新行数"),
    "loaded_at": ("Loaded at", "导入时间"),
    "rolled_back": ("Rolled back", "已回滚"),
    "h_loads": ("Loads", "导入记录"),
}
register_labels("ingest", LABELS)


def loads_table(loads: pd.DataFrame, lang: str) -> Html:
    """The load history (list_loads) as an escaped HTML table with translated headers; the SHA-256 shortened."""
    shown = loads.copy()
    if "content_sha256" in shown:
        shown["content_sha256"] = shown["content_sha256"].astype("string").str.slice(0, 12)
    if "rolled_back" in shown:
        yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
        shown["rolled_back"] = shown["rolled_back"].map({True: yes, False: no})
    return Html(display_table(shown, lang))
