"""workbench.present: display_table, notice and the label registry behind i18n.label."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from workbench import i18n, present
from workbench.errors import NotEnoughData


def _cells(html: str) -> list[list[str]]:
    body = html.split("<tbody>")[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>") if "<td" in row]


def _heads(html: str) -> list[str]:
    return re.findall(r"<th>(.*?)</th>", html)


def test_display_table_headers_money_percent_missing() -> None:
    df = pd.DataFrame({
        "region": ["East", "South"],
        "net_sales": [1234.4, np.nan],
        "share_active": [0.1234, None],
        "n_things": np.array([3, 1200], dtype="int64"),
    })
    before = df.copy()
    page = present.display_table(df, "en", currency="GBP", money=["net_sales"], percent=["share_active"])
    assert _heads(page) == ["Region", "Net sales (GBP)", "Share active", "N things"]
    assert _cells(page) == [["East", "£1,234", "12.3%", "3"], ["South", "–", "–", "1,200"]]
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert "_" not in "".join(_heads(page))


def test_display_table_chinese_headers_and_codes() -> None:
    df = pd.DataFrame({"region": ["East", "North"], "tier": ["core", None]})
    page = present.display_table(df, "zh", codes=["region", "tier"])
    assert _heads(page) == ["区域", "层级"]
    assert _cells(page) == [["华东", "核心"], ["华北", "–"]]


def test_display_table_escapes_and_override_labels() -> None:
    df = pd.DataFrame({"name": ["<script>alert(1)</script>", "A & B"], "when": [dt.date(2026, 9, 30), pd.NaT]})
    page = present.display_table(df, "en", labels={"when": "Last <order>"})
    assert "<script>" not in page and "&lt;script&gt;" in page and "A &amp; B" in page
    assert _heads(page) == ["Partner", "Last &lt;order&gt;"]
    assert _cells(page)[0][1] == "2026-09-30" and _cells(page)[1][1] == "–"


def test_display_table_is_a_string_that_renders() -> None:
    page = present.display_table(pd.DataFrame({"a": [1]}), "en")
    assert isinstance(page, str) and page._repr_html_() == str(page)
    assert "None" not in page and "nan" not in page.lower()


def test_notice_renders_the_sentence_only() -> None:
    exc = NotEnoughData("Only 2 months of orders; the trend needs 6, the table below still shows.")
    en = present.notice(exc, "en")
    assert en.startswith("> **Note:**") and "Only 2 months of orders" in en
    assert "NotEnoughData" not in en and "Traceback" not in en and "\n" not in en
    assert en._repr_markdown_() == str(en)
    zh = present.notice(exc, "zh")
    assert zh.startswith("> **说明：**")


def test_notice_escapes_markup() -> None:
    note = present.notice("Region <b>East</b> has *no* orders", "en")
    assert "<b>" not in note and "&lt;b&gt;" in note and "\\*no\\*" in note


def test_registered_labels_are_found_by_i18n_label() -> None:
    present.register_labels("_test_owner", {"_test_key_xyz": ("Test label", "测试标签")})
    try:
        assert i18n.label("_test_key_xyz", "en") == "Test label"
        assert i18n.label("_test_key_xyz", "zh") == "测试标签"
        assert "_test_key_xyz" in i18n.LABELS
        assert i18n.LABELS["_test_key_xyz"] == ("Test label", "测试标签")
        assert i18n.relabel(["_test_key_xyz", "region"], "en") == {"_test_key_xyz": "Test label", "region": "Region"}
    finally:
        i18n._REGISTERED.pop("_test_owner", None)
    assert i18n.label("_test_key_xyz", "en") == "_test_key_xyz"  # unknown keys come back unchanged
    with pytest.raises(KeyError):
        i18n.LABELS["_test_key_xyz"]


def test_register_labels_rejects_malformed_pairs() -> None:
    with pytest.raises(TypeError, match="pair"):
        present.register_labels("_bad", {"k": ("only English",)})  # type: ignore[dict-item]


def test_common_vocabulary_is_never_redefined() -> None:
    """Regions, tiers and channel types have one text everywhere: no present module gives them another."""
    clashes = [
        f"{key}: {owner} says {pair}, common says {i18n.LABELS[key]}"
        for owner, labels in i18n.label_sources().items()
        for key, pair in labels.items()
        if key in i18n.COMMON_KEYS and pair != i18n.LABELS[key]
    ]
    assert not clashes, clashes


def test_owner_scoped_lookup_for_keys_two_jobs_share() -> None:
    present.register_labels("_test_a", {"_test_shared": ("Share of sales", "销售占比")})
    present.register_labels("_test_b", {"_test_shared": ("Share of partners", "经销商占比")})
    try:
        assert i18n.label("_test_shared", "en", owner="_test_b") == "Share of partners"
        assert i18n.label("_test_shared", "en", owner="_test_a") == "Share of sales"
        assert i18n.label("_test_shared", "en") == "Share of sales"  # owner-name order, not import order
        page = present.display_table(pd.DataFrame({"_test_shared": [0.5]}), "zh", owner="_test_b")
        assert _heads(page) == ["经销商占比"]
        assert i18n.label("region", "en", owner="_test_b") == "Region"
    finally:
        i18n._REGISTERED.pop("_test_a", None)
        i18n._REGISTERED.pop("_test_b", None)


def test_every_label_has_english_and_chinese() -> None:
    for key, (en, zh) in i18n.LABELS.items():
        assert en.strip() and zh.strip(), key


def test_notebooks_reach_the_vocabulary_through_the_package() -> None:
    import workbench as wb

    assert wb.present.notice is present.notice
    assert str(wb.vocab.Quarter.parse("2026Q3")) == "2026Q3"
    assert issubclass(wb.errors.NotEnoughData, wb.errors.WorkbenchError)


def test_satisfaction_scores_read_as_scores_not_two_decimals():
    """A 0–100 score shows as 70 or 67.5, never 70.00 (the partner review list of pages 05 and 07)."""
    import pandas as pd

    from workbench.present import display_table
    from workbench.present.relations import review_table

    t = display_table(pd.DataFrame({"satisfaction": [70.0, 67.5, 67.25, None]}), "en", scores=("satisfaction",))
    assert ">70</td>" in t and ">67.5</td>" in t and ">67.2</td>" in t and ">–</td>" in t and ".00" not in t
    review = pd.DataFrame({"partner_id": ["P1"], "sales_recent": [100.0], "sales_year_ago": [200.0], "change": [-0.5],
                           "satisfaction": [68.0], "rebates_paid": [1.0], "contribution": [24.0], "declining": [True],
                           "low_satisfaction": [False], "negative_contribution": [False]})
    page = str(review_table(review, "zh", currency="CNY"))
    assert ">68</td>" in page and "68.00" not in page


def test_page_07_tables_show_scores_and_days_without_trailing_zeros():
    import pandas as pd

    from workbench.present.relations import activation_table, quotes_table, theme_table

    act = str(activation_table(pd.DataFrame({"cohort": ["2026Q1"], "added": [3], "activated": [3],
                                             "activation_rate": [1.0], "median_days_to_first": [17.0]}), "zh"))
    quotes = str(quotes_table(pd.DataFrame({"theme": ["price"], "comment": ["贵"], "satisfaction": [57.0]}), "zh"))
    themes = str(theme_table(pd.DataFrame({"theme": ["price"], "comments": [4], "share": [0.5],
                                           "satisfaction": [61.25], "gap": [-3.0]}), "en"))
    assert ">17</td>" in act and ">57</td>" in quotes and ">61.2</td>" in themes and ">-3</td>" in themes
    assert ".00<" not in act + quotes + themes


def test_page_05_effects_and_roi_tables_show_one_decimal_not_trailing_zeros():
    """Page 05's action-effects and return-on-cost tables: percent and ratios with one decimal ("-18.5",
    "-26.0"), the pre-trend p-value with two, in English and Chinese; never "-18.00" or "12.60"."""
    from workbench.present.retro import effects_table, roi_table

    log = np.log1p  # effects are log points; the tables show 100 × (e^b − 1)
    effects = pd.DataFrame({"action_type": ["training", "visit"], "effect_log": [log(0.126), log(-0.18)],
                            "ci_low": [log(-0.0806), log(-0.26)], "ci_high": [log(0.265), log(0.0357)],
                            "naive_log": [log(0.112), None], "pretrend_p": [0.8388, 0.1361], "n_treated": [25, 3]})
    for lang, names in (("en", ("Training", "Visit")), ("zh", ("培训", "拜访"))):
        rows = _cells(str(effects_table(effects, lang)))
        assert rows == [[names[0], "12.6", "-8.1", "26.5", "11.2", "0.84", "25"],
                        [names[1], "-18.0", "-26.0", "3.6", "–", "0.14", "3"]]
    roi = pd.DataFrame({"action_type": ["visit"], "tier": ["all"], "kind": ["first"], "n_actions": [30],
                        "cost_per_action": [8000.0], "cost_source": ["default"], "effect_log": [log(-0.173)],
                        "incremental_sales": [-148000.0], "roi": [-18.5], "roi_low": [-140.476], "roi_high": [14.0]})
    en, zh = str(roi_table(roi, "en")), str(roi_table(roi, "zh"))
    assert _cells(en) == [["Visit", "All tiers", "First", "30", "¥8,000", "default", "-17.3", "-¥148,000",
                           "-18.5", "-140.5", "14.0"]]
    assert _cells(zh)[0][:3] == ["拜访", "全部层级", "首次"] and _cells(zh)[0][-3:] == ["-18.5", "-140.5", "14.0"]
    assert len(set(_heads(en))) == len(_heads(en))  # no two columns titled alike ("Action" twice before)
    assert ".00<" not in en + zh and ".60<" not in en + zh
    unbounded = roi.assign(roi_low=-np.inf)  # 1 − e^817 on a store with every order on one day
    assert _cells(str(roi_table(unbounded, "en")))[0][-3:] == ["-18.5", "–", "14.0"]
