"""Relationship management: cadence, adherence, activation, feedback themes and channel mix against hand values."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from workbench import relations
from workbench.relations import feedback

AS_OF = "2026-09-30"


def _actions(rows):
    return pd.DataFrame(rows, columns=["partner_id", "action_date", "action_type"]).assign(
        action_date=lambda d: pd.to_datetime(d["action_date"]))


def test_contact_status_counts_days_to_as_of_and_flags_overdue():
    partners = pd.DataFrame({"partner_id": ["A", "B", "C", "D"], "tier": ["core", "growth", "pilot", "core"],
                             "manager_id": ["m1", "m1", "m2", None]})
    actions = _actions([
        ("A", "2026-09-10", "visit"),          # 20 days before as_of: core cadence 30 → in cadence
        ("A", "2026-08-01", "communication"),
        ("B", "2026-07-01", "communication"),  # 91 days: growth cadence 60 → 31 days overdue
        ("C", "2026-09-29", "training"),       # a training is not a contact → never contacted
        ("D", "2026-10-05", "visit"),          # after as_of: ignored → never contacted
    ])
    st = relations.contact_status(partners, actions, as_of=AS_OF).set_index("partner_id")
    assert st.loc["A", "last_contact_date"] == pd.Timestamp("2026-09-10")
    assert st.loc["A", "days_since_contact"] == 20 and not st.loc["A", "overdue"]
    assert st.loc["B", "days_since_contact"] == 91 and st.loc["B", "overdue"] and st.loc["B", "days_overdue"] == 31
    for pid, cadence in (("C", 90), ("D", 30)):
        assert pd.isna(st.loc[pid, "last_contact_date"]) and pd.isna(st.loc[pid, "days_since_contact"])
        assert st.loc[pid, "overdue"] and st.loc[pid, "contact_every_days"] == cadence
    assert list(st.columns[:6]) == ["tier", "manager_id", "last_contact_date", "days_since_contact",
                                    "contact_every_days", "overdue"]


def test_contact_on_the_cadence_day_is_not_overdue():
    partners = pd.DataFrame({"partner_id": ["A"], "tier": ["core"]})
    st = relations.contact_status(partners, _actions([("A", "2026-08-31", "visit")]), as_of=AS_OF)
    assert st.loc[0, "days_since_contact"] == 30 and not st.loc[0, "overdue"]


def test_adherence_by_tier_and_manager():
    status = pd.DataFrame({
        "partner_id": list("ABCDE"), "tier": ["core", "core", "growth", "growth", "growth"],
        "manager_id": ["m1", "m2", "m1", None, None],
        "last_contact_date": pd.to_datetime(["2026-09-01", None, "2026-09-01", "2026-01-01", None]),
        "overdue": [False, True, False, True, True]})
    by_tier = relations.contact_adherence(status, by="tier").set_index("tier")
    assert by_tier.loc["core", ["partners", "contacted_in_cadence", "overdue", "never_contacted"]].tolist() == [2, 1, 1, 1]
    assert by_tier.loc["growth", "adherence"] == pytest.approx(1 / 3)
    by_manager = relations.contact_adherence(status, by="manager_id").set_index("manager_id")
    assert by_manager.loc["unassigned", "partners"] == 2 and by_manager.loc["m1", "adherence"] == 1.0


def test_activation_durations_first_and_second_order_days():
    partners = pd.DataFrame({"partner_id": ["A", "B", "C"],
                             "onboard_date": pd.to_datetime(["2026-01-01", "2026-03-15", "2026-09-01"])})
    orders = pd.DataFrame({
        "partner_id": ["A", "A", "A", "B", "B", "C"],
        "order_date": pd.to_datetime(["2026-01-11", "2026-01-11", "2026-02-10", "2026-04-14", "2026-04-20",
                                      "2026-10-01"]),
        "net_amount": [1.0, 2.0, 3.0, -5.0, 4.0, 9.0],
        "is_return": [False, False, False, True, False, False]})
    d = relations.activation_durations(partners, orders, as_of=AS_OF).set_index("partner_id")
    assert d.loc["A", ["days_to_first", "days_to_second"]].tolist() == [10.0, 40.0]   # same-day lines: one order day
    assert d.loc["A", "first_observed"] and d.loc["A", "second_observed"]
    assert d.loc["B", "days_to_first"] == 36.0 and not d.loc["B", "second_observed"]  # the return does not count
    assert d.loc["B", "days_to_second"] == 199.0                                      # censored at as_of
    assert not d.loc["C", "first_observed"] and d.loc["C", "days_to_first"] == 29.0   # order after as_of ignored
    assert d.loc["A", "cohort"] == "2026Q1" and d.loc["C", "cohort"] == "2026Q3"
    q = relations.activation_by_quarter(d.reset_index()).set_index("cohort")
    assert q.loc["2026Q1", ["added", "activated"]].tolist() == [2, 2]
    assert q.loc["2026Q3", ["added", "activated"]].tolist() == [1, 0] and not q.loc["2026Q3", "window_closed"]


def test_activation_with_only_returns_is_all_censored():
    partners = pd.DataFrame({"partner_id": ["A", "B"], "onboard_date": pd.to_datetime(["2026-01-01", "2026-06-01"])})
    orders = pd.DataFrame({"partner_id": ["A"], "order_date": pd.to_datetime(["2026-02-01"]),
                           "net_amount": [-10.0], "is_return": [True]})
    d = relations.activation_durations(partners, orders, as_of=AS_OF).set_index("partner_id")
    assert not d["first_observed"].any() and d.loc["A", "days_to_first"] == 272.0
    q = relations.activation_by_quarter(d.reset_index())
    assert q["activated"].sum() == 0 and q["added"].sum() == 2
    assert relations.ramp_curves(partners, orders, as_of=AS_OF)["median_sales"].le(0).all()


def test_no_partner_onboarded_by_as_of_gives_an_empty_activation_table():
    """A region whose only partner is onboarded after as_of (Online Retail's RSA in 2011Q3): no row, no error."""
    partners = pd.DataFrame({"partner_id": ["A"], "onboard_date": pd.to_datetime(["2027-01-01"])})
    orders = pd.DataFrame({"partner_id": ["A"], "order_date": pd.to_datetime(["2027-01-02"]),
                           "net_amount": [10.0], "is_return": [False]})
    d = relations.activation_durations(partners, orders, as_of=AS_OF)
    q = relations.activation_by_quarter(d)
    assert d.empty and q.empty and {"cohort", "added", "activated", "window_closed"} <= set(q.columns)


def test_activation_survival_matches_the_empirical_share_without_censoring():
    rng = np.random.default_rng(5)
    days = rng.integers(1, 200, size=40).astype(float)
    d = pd.DataFrame({"partner_id": range(40), "cohort": "2025", "days_to_first": days, "first_observed": True})
    km = relations.activation_survival(d, by="cohort")
    for months in (1.0, 3.0, 5.0):
        at = km[km["months"] <= months]["activated"].iloc[-1]
        assert at == pytest.approx((days / relations.onboarding.DAYS_PER_MONTH <= months).mean())


COMMENTS = [
    ("s1", "返利到账太慢", 40.0), ("s2", "价格冲突严重", 50.0), ("s3", "希望加快发货", 70.0),
    ("s4", "合作愉快，产品好卖", 90.0), ("s5", "Rebate payouts are late again", 45.0),
    ("s6", "Great product, sells well", 88.0), ("s7", "还可以吧", 75.0), ("s8", "", 60.0), ("s9", None, 60.0),
    ("s10", "Delivery was slow and stock ran out", 55.0),
]


def _themed():
    s = pd.DataFrame(COMMENTS, columns=["survey_id", "comment", "satisfaction"]).assign(
        partner_id=lambda d: "P" + d["survey_id"], tier=["core", "core", "growth", "growth", "pilot", "pilot",
                                                         "core", "core", "core", "growth"])
    return relations.comment_themes(s)


def test_feedback_themes_in_chinese_and_english():
    themed = _themed()
    got = themed.groupby("survey_id")["theme"].apply(set).to_dict()
    assert got["s1"] == {"rebate"} and got["s2"] == {"price"} and got["s3"] == {"delivery"}
    assert got["s4"] == {"relationship", "product"} and got["s5"] == {"rebate"} and got["s6"] == {"product"}
    assert got["s7"] == {"other"} and got["s10"] == {"delivery"}
    assert "s8" not in got and "s9" not in got  # empty comments are not feedback
    assert themed.set_index("survey_id").loc["s5", "lang"] == "en"


def test_theme_summary_share_and_satisfaction_gap():
    summary = relations.theme_summary(_themed()).set_index("theme")
    overall = np.mean([40, 50, 70, 90, 45, 88, 75, 55])
    assert summary.loc["rebate", "comments"] == 2 and summary.loc["rebate", "share"] == pytest.approx(2 / 8)
    assert summary.loc["rebate", "gap"] == pytest.approx(np.mean([40, 45]) - overall)
    by_tier = relations.theme_summary(_themed(), by="tier")
    assert set(by_tier["tier"]) == {"core", "growth", "pilot"}


def test_quotes_and_jieba_terms():
    quotes = relations.theme_quotes(_themed(), per_theme=1).set_index("theme")
    assert quotes.loc["price", "comment"] == "价格冲突严重"
    terms = relations.top_terms(_themed(), theme="rebate")
    assert {"返利", "rebate"} <= set(terms["term"]) or {"返利", "payouts"} <= set(terms["term"])
    assert feedback._tokens("返利到账太慢", relations.load_feedback_themes())[0] == "返利"


def test_channel_mix_shares_hhi_and_alerts():
    sales = pd.DataFrame({"quarter": ["2025Q3"] * 2 + ["2026Q3"] * 2, "channel_type": ["dealer", "ecommerce"] * 2,
                          "net_sales": [80.0, 20.0, 40.0, 60.0]})
    mix = relations.channel_mix(sales).set_index(["quarter", "channel_type"])
    assert mix.loc[("2026Q3", "ecommerce"), "share"] == pytest.approx(0.6)
    assert mix.loc[("2026Q3", "dealer"), "share_change"] == pytest.approx(-0.4)
    assert mix.loc[("2026Q3", "dealer"), "hhi"] == pytest.approx(0.36 + 0.16)
    alerts = relations.channel_alerts(mix.reset_index(), quarter="2026Q3")
    assert set(zip(alerts["code"], alerts["channel_type"].fillna(""), strict=True)) == {
        ("channel_share_high", "ecommerce"), ("channel_share_drop", "dealer"), ("channel_hhi_high", "")}


def test_partner_review_reasons():
    quarterly = pd.DataFrame({"partner_id": ["A", "A", "B", "B", "C"],
                              "quarter": ["2025Q3", "2026Q3", "2025Q3", "2026Q3", "2026Q3"],
                              "net_sales": [100.0, 50.0, 100.0, 95.0, 10.0]})
    sat = pd.DataFrame({"partner_id": ["B"], "satisfaction": [40.0]})
    reb = pd.DataFrame({"partner_id": ["C"], "rebates_paid": [5.0]})
    r = relations.partner_review(quarterly, sat, reb, quarter="2026Q3").set_index("partner_id")
    assert r.loc["A", "declining"] and r.loc["A", "change"] == pytest.approx(-0.5)
    assert r.loc["B", "low_satisfaction"] and not r.loc["B", "declining"]
    assert r.loc["C", "negative_contribution"] and r.loc["C", "contribution"] == pytest.approx(0.25 * 10 - 5)


def test_contacts_command_writes_one_row_per_active_partner(realstore, tmp_path):
    from workbench.cli import main

    out = tmp_path / "contacts.csv"
    assert main(["contacts", "--as-of", AS_OF, "--out", str(out), "--db", str(realstore("orders_only"))]) == 0
    frame = pd.read_csv(out)
    assert {"partner_id", "tier", "manager_id", "last_contact_date", "days_since_contact", "contact_every_days",
            "overdue"} <= set(frame.columns)
    assert frame["partner_id"].is_unique and frame["overdue"].all()  # no actions: everyone is overdue
    assert frame["last_contact_date"].isna().all()


@pytest.mark.slow
@pytest.mark.parametrize(("store", "lang"), [("markup", "en"), ("one_partner_region", "zh")])
def test_notebook_07_renders_on_real_stores(realstore, tmp_path, store, lang):
    import papermill as pm

    from tests.realstores import ONE_PARTNER_REGION
    from workbench.paths import NOTEBOOKS_DIR
    from workbench.reports import register_engine

    region = ONE_PARTNER_REGION if store == "one_partner_region" else "all"
    out = tmp_path / "07.ipynb"
    pm.execute_notebook(str(NOTEBOOKS_DIR / "07_relationships.ipynb"), str(out), kernel_name="python3",
                        parameters={"db": str(realstore(store)), "quarter": "2026Q3", "lang": lang,
                                    "region": region},
                        engine_name=register_engine(), progress_bar=False, cwd=str(NOTEBOOKS_DIR),
                        execution_timeout=300)
    nb = nbformat.read(out, 4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error" or o.get("name") == "stderr"]
    text = json.dumps(outputs, ensure_ascii=False)
    assert "<script>alert" not in text and "<img src=x onerror" not in text
    assert "contact-name-never-shown" not in text


def test_contacts_for_one_manager_hold_only_that_managers_partners(realstore):
    import duckdb

    from workbench.store import connect

    path = realstore("one_line")
    with duckdb.connect(str(path), read_only=True) as c:
        books = dict(c.sql("SELECT partner_id, manager_id FROM partners").fetchall())
    manager = sorted(set(books.values()))[0]
    con = connect(path, read_only=True)
    status = relations.contacts_from_store(con, as_of=AS_OF, manager=manager)
    assert len(status) > 0 and {books[p] for p in status["partner_id"]} == {manager}
    assert set(status["manager_id"]) == {manager}
    everyone = relations.contacts_from_store(con, as_of=AS_OF)
    assert set(status["partner_id"]) == {p for p in everyone["partner_id"] if books[p] == manager}


PLATFORM_PARTNERS = [("A", "dealer", None), ("B", "ecommerce", "Tmall"), ("C", "ecommerce", "JD"),
                     ("D", "ecommerce", " JD "), ("E", "ecommerce", "  ")]  # D: JD after trimming; E: blank
PLATFORM_ORDERS = [("A", "2025-08-01", 500), ("B", "2025-08-01", 100), ("C", "2025-08-01", 100),
                   ("E", "2025-08-01", 50), ("A", "2026-08-01", 1000), ("B", "2026-08-01", 300),
                   ("C", "2026-08-01", 50), ("D", "2026-08-01", 50), ("E", "2026-08-01", 70)]


def _platform_store(path, *, with_column: bool = True, blank: bool = False):
    from workbench.store import connect, raw_connection

    con = connect(path)
    raw = raw_connection(con)
    for pid, channel, platform in PLATFORM_PARTNERS:
        raw.execute("INSERT INTO partners (partner_id, name, region, channel_type, onboard_date, platform) "
                    "VALUES (?, ?, 'East', ?, DATE '2024-01-01', ?)", [pid, pid, channel, None if blank else platform])
    for i, (pid, day, amount) in enumerate(PLATFORM_ORDERS):
        raw.execute("INSERT INTO orders (order_id, partner_id, order_date, net_amount) VALUES (?, ?, ?, ?)",
                    [f"O{i}", pid, day, amount])
    if not with_column:  # a store whose partners table predates the optional column
        raw.execute("ALTER TABLE partners DROP COLUMN platform")
    return con


def test_platform_mix_share_trend_concentration_and_alerts(tmp_path):
    """Hand values: 2026Q3 Tmall 300 and JD 50 + 50 (D's ' JD ' trimmed; E's blank platform and A's none left
    out) → shares 0.75 / 0.25, HHI 0.625; a year earlier 100 / 100 → Tmall +25 points, JD −25 points."""
    con = _platform_store(tmp_path / "p.duckdb")
    assert relations.has_platforms(con)
    mix = relations.channel_mix_from_store(con, quarter="2026Q3", by="platform")
    q3 = mix[mix["quarter"] == "2026Q3"].set_index("platform")
    assert set(q3.index) == {"Tmall", "JD"}
    assert q3.loc["Tmall", "net_sales"] == pytest.approx(300) and q3.loc["JD", "net_sales"] == pytest.approx(100)
    assert q3.loc["Tmall", "share"] == pytest.approx(0.75) and q3.loc["JD", "hhi"] == pytest.approx(0.625)
    assert q3.loc["JD", "share_change"] == pytest.approx(-0.25) and q3.loc["Tmall", "share_year_ago"] == pytest.approx(0.5)
    cfg = relations.load_channel_mix_config()  # the same thresholds as channel types (config/retro.yaml)
    alerts = relations.channel_alerts(mix, quarter="2026Q3", config=cfg, by="platform")
    assert set(zip(alerts["code"], alerts["platform"].fillna(""), strict=True)) == {
        ("platform_share_high", "Tmall"), ("platform_share_drop", "JD"), ("platform_hhi_high", "")}
    strict = relations.ChannelMixConfig(max_channel_share=0.80, share_drop_points=0.30, max_hhi=0.70)
    assert relations.channel_alerts(mix, quarter="2026Q3", config=strict, by="platform").empty
    # the channel-type mix is unchanged by platforms: every partner's sales, by channel type
    by_type = relations.channel_mix_from_store(con, quarter="2026Q3")
    assert by_type.loc[by_type["quarter"] == "2026Q3", "net_sales"].sum() == pytest.approx(1470)
    from workbench.present import relations as pr

    zh = str(pr.alert_sentences(alerts, "zh"))
    assert "Tmall占平台经销商净销售额的75.0%（超过50%即预警）" in zh and "集中度（HHI）0.62" in zh
    table = str(pr.channel_table(mix, "2026Q3", "en", currency="CNY"))
    assert "Platform" in table and "Tmall" in table and "75.0%" in table and "platform" not in table.replace("Platform", "")


@pytest.mark.parametrize("kind", ["no_column", "all_blank"])
def test_no_platform_means_no_platform_section(tmp_path, kind):
    con = _platform_store(tmp_path / "p.duckdb", with_column=kind != "no_column", blank=kind == "all_blank")
    assert not relations.has_platforms(con)
    mix = relations.channel_mix_from_store(con, quarter="2026Q3", by="platform")
    assert mix.empty and "platform" in mix.columns
    assert relations.channel_alerts(mix, quarter="2026Q3", by="platform").empty
    assert not relations.channel_mix_from_store(con, quarter="2026Q3").empty  # channel types still work
