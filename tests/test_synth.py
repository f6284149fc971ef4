"""Tests of workbench.synth: determinism, contract conformance, seasonality and the planted truth."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import store, synth
from workbench.store import TABLE_ORDER, TABLES

END = pd.Timestamp("2026-09-30")
DEMO_PARTNERS, DEMO_SEED = 400, 7  # what tests/conftest.py's demo_db fixture builds


@pytest.fixture(scope="module")
def net() -> synth.SynthNetwork:
    """A 600-partner, 36-month network (seed 11): big enough for aggregate checks, under a second."""
    return synth.generate(partners=600, months=36, seed=11, mode="easy")


@pytest.fixture(scope="module")
def monthly_sales(net: synth.SynthNetwork) -> pd.Series:
    """Net order sales per calendar month (CNY), indexed by pd.Period."""
    o = net.tables["orders"]
    return o.groupby(o["order_date"].dt.to_period("M"))["net_amount"].sum()


# ---- determinism -----------------------------------------------------------------------------------


def test_same_seed_gives_identical_network() -> None:
    a = synth.generate(partners=300, months=36, seed=5)
    b = synth.generate(partners=300, months=36, seed=5)
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    for name in a.truth:
        pd.testing.assert_frame_equal(a.truth[name], b.truth[name])
    assert a.params == b.params


def test_other_seed_gives_other_network() -> None:
    a = synth.generate(partners=300, months=36, seed=5)
    c = synth.generate(partners=300, months=36, seed=6)
    assert not a.tables["orders"]["net_amount"].equals(c.tables["orders"]["net_amount"])
    assert not a.tables["partners"]["name"].equals(c.tables["partners"]["name"])


# ---- the data contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLE_ORDER)
def test_tables_follow_contract(net: synth.SynthNetwork, name: str) -> None:
    spec = TABLES[name]
    frame = net.tables[name]
    assert list(frame.columns) == spec.column_names
    assert len(frame) > 0
    assert not frame.duplicated(list(spec.primary_key)).any()
    for col in spec.columns:
        s = frame[col.name]
        if col.required:
            assert s.notna().all(), f"{name}.{col.name} has nulls"
        if col.enum is not None:
            assert set(s.dropna()) <= set(col.enum), f"{name}.{col.name} outside enum"
        if col.min_value is not None:
            assert (s.dropna() >= col.min_value).all(), f"{name}.{col.name} below min"
        if col.max_value is not None:
            assert (s.dropna() <= col.max_value).all(), f"{name}.{col.name} above max"
        if col.sql_type == "DATE":
            assert pd.api.types.is_datetime64_any_dtype(s)
            assert (s.dropna() <= END).all(), f"{name}.{col.name} after the end date"
            assert (s.dropna() == s.dropna().dt.normalize()).all()
        if col.sql_type.startswith("DECIMAL"):
            cents = s.dropna() * 100
            assert np.allclose(cents, cents.round(), atol=1e-6), f"{name}.{col.name} not in cents"
    partner_ids = set(net.tables["partners"]["partner_id"])
    for col, _parent in spec.foreign_keys:
        assert set(frame[col]) <= partner_ids


def test_orders_amounts_and_returns(net: synth.SynthNetwork) -> None:
    o = net.tables["orders"]
    assert (o.loc[~o["is_return"], "net_amount"] >= 0).all()
    assert (o.loc[o["is_return"], "net_amount"] <= 0).all()
    assert o.loc[o["is_return"], "list_amount"].isna().all()
    sales = o.loc[~o["is_return"] & (o["net_amount"] > 100)]
    discount = 1 - sales["net_amount"] / sales["list_amount"]
    assert discount.between(0.04, 0.26).all()
    assert 0.01 < o["is_return"].mean() < 0.03
    assert o["order_id"].str.fullmatch(r"O\d{9}-\d").all()
    assert set(o["product_line"]) == set(synth.PRODUCT_LINES)


def test_no_activity_before_onboarding(net: synth.SynthNetwork) -> None:
    p = net.tables["partners"].set_index("partner_id")
    o = net.tables["orders"]
    assert (o["order_date"] >= o["partner_id"].map(p["onboard_date"])).all()
    window_start = END.to_period("M") - 35
    before = p["onboard_date"] < window_start.to_timestamp()
    assert 0.6 < before.mean() < 0.8


def test_demo_store_ingests_without_quarantine(demo_db: Path) -> None:
    expected = synth.generate(partners=DEMO_PARTNERS, months=36, seed=DEMO_SEED)
    con = store.connect(demo_db, read_only=True)
    counts = store.row_counts(con)
    assert counts["quarantine"] == 0
    for name in TABLE_ORDER:
        assert counts[name] == len(expected.tables[name]), name
    raw = store.raw_connection(con)
    truth = {r[0] for r in raw.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'truth'").fetchall()}
    assert truth == {"partners", "partner_month", "params", "action_effects"}
    n_pm = raw.execute("SELECT count(*) FROM truth.partner_month").fetchone()[0]
    assert n_pm == DEMO_PARTNERS * 36
    xss = raw.execute("SELECT count(*) FROM partners WHERE name = ?", [synth.XSS_NAME]).fetchone()[0]
    assert xss == 1
    con.disconnect()


def test_build_demo_store_replaces_existing_file(tmp_path: Path) -> None:
    db = tmp_path / "small.duckdb"
    db.write_bytes(b"not a duckdb file")
    line = synth.build_demo_store(db, partners=40, months=12, seed=3, mode="easy")
    assert "partners 40" in line and "orders" in line
    con = store.connect(db, read_only=True)
    assert store.row_counts(con)["partners"] == 40
    con.disconnect()


# ---- partners: names, regions, personal data --------------------------------------------------


def test_escaping_and_special_names_present(net: synth.SynthNetwork) -> None:
    names = set(net.tables["partners"]["name"])
    assert synth.XSS_NAME in names
    special = [n for n in names if any(ch in n for ch in "&<>'\"")]
    assert len(special) >= 4
    assert any("'" in n for n in special) and any('"' in n for n in special)


def test_contact_fields_filled_and_fake(net: synth.SynthNetwork) -> None:
    p = net.tables["partners"]
    assert p["contact_name"].notna().all() and (p["contact_name"].str.len() >= 2).all()
    assert p["contact_phone"].str.fullmatch(r"1[3-9]\d-\d{4}-\d{4}").all()
    assert p["contact_phone"].nunique() > 0.95 * len(p)
    assert {c for c in TABLES["partners"].columns if c.personal} == {
        TABLES["partners"].column("contact_name"), TABLES["partners"].column("contact_phone"),
        TABLES["partners"].column("manager_name")}  # manager names are personal data too (issue 18)


def test_regions_and_names_look_chinese(net: synth.SynthNetwork) -> None:
    p = net.tables["partners"]
    assert set(p["region"]) == set(synth.REGIONS)
    shares = p["region"].value_counts(normalize=True)
    assert shares.idxmax() == "East"
    for region, cities in synth.REGION_CITIES.items():
        sub = p[p["region"] == region]
        assert set(zip(sub["province"], sub["city"], strict=True)) <= set(cities)
    cjk = p["name"].map(lambda s: bool(re.search(r"[\u4e00-\u9fff]", s)))
    assert cjk.mean() > 0.98


# ---- seasonality --------------------------------------------------------------------------------


def test_spring_festival_month_dips(monthly_sales: pd.Series) -> None:
    for year in (2024, 2025, 2026):
        lny = synth.LUNAR_NEW_YEAR[year]
        m = pd.Period(lny, "M")
        assert monthly_sales[m] < 0.85 * monthly_sales[m - 1], m
        assert monthly_sales[m] < 0.85 * monthly_sales[m + 1], m


@pytest.mark.parametrize("peak_month", [6, 11])
def test_618_and_double_11_peaks(monthly_sales: pd.Series, peak_month: int) -> None:
    for year in (2024, 2025):
        m = pd.Period(f"{year}-{peak_month:02d}", "M")
        assert monthly_sales[m] > 1.1 * monthly_sales[m - 1], m
        assert monthly_sales[m] > 1.1 * monthly_sales[m + 1], m


def test_season_multipliers_follow_lunar_calendar() -> None:
    months = pd.period_range("2024-01", "2026-12", freq="M")
    s = pd.Series(synth.season_multipliers(months), index=months)
    assert s[pd.Period("2024-02", "M")] == synth.SPRING_FESTIVAL_FACTOR
    assert s[pd.Period("2025-01", "M")] == synth.SPRING_FESTIVAL_FACTOR
    assert s[pd.Period("2026-02", "M")] == synth.SPRING_FESTIVAL_FACTOR
    assert s[pd.Period("2025-02", "M")] == 1.0
    assert (s[s.index.month == 11] > s[s.index.month == 10].to_numpy()).all()


# ---- planted truth --------------------------------------------------------------------------------


def test_truth_tables_shapes(net: synth.SynthNetwork) -> None:
    tp, tpm = net.truth["partners"], net.truth["partner_month"]
    assert list(tp.columns) == ["partner_id", "segment", "size", "churn_month", "treated_action",
                                "treated_month", "underpaid"]
    assert list(tpm.columns) == ["partner_id", "month", "alive", "health", "hazard", "rate_pp",
                                 "expected_sales_cny", "satisfaction", "shortfall_cny", "open_conflicts",
                                 "action_on", "segment"]
    assert len(tp) == 600 and len(tpm) == 600 * 36
    assert tpm["hazard"].between(0, 1).all()
    assert set(tp["segment"]) == set(synth.SEGMENTS)
    params = dict(zip(net.truth["params"]["key"], net.truth["params"]["value"], strict=True))
    assert float(params["beta_rebate"]) == synth.BETA_REBATE
    assert params["end"] == "2026-09-30" and params["partners"] == "600" and params["seed"] == "11"
    effects = net.truth["action_effects"].set_index("action_type")["effect_log"]
    assert effects["training"] == 0.10 and effects["communication"] == 0.0
    assert (tpm.loc[~tpm["alive"], "expected_sales_cny"] == 0).all()


def test_orders_only_in_alive_months_and_none_after_churn(net: synth.SynthNetwork) -> None:
    tpm = net.truth["partner_month"]
    alive = set(zip(tpm.loc[tpm["alive"], "partner_id"], tpm.loc[tpm["alive"], "month"], strict=True))
    for name, col in [("orders", "order_date"), ("surveys", "survey_date"), ("trainings", "training_date"),
                      ("actions", "action_date"), ("conflicts", "reported_date")]:
        t = net.tables[name]
        months = t[col].dt.to_period("M").dt.to_timestamp()
        assert all(k in alive for k in zip(t["partner_id"], months, strict=True)), name
    tp = net.truth["partners"]
    churned = tp.dropna(subset=["churn_month"]).set_index("partner_id")["churn_month"]
    assert len(churned) > 0.2 * len(tp)
    o = net.tables["orders"]
    o = o[o["partner_id"].isin(churned.index)]
    assert (o["order_date"] < o["partner_id"].map(churned)).all()
    # churned partners did order before they churned (most of them)
    assert o["partner_id"].nunique() > 0.8 * len(churned)


def test_exit_dates_follow_churn(net: synth.SynthNetwork) -> None:
    p = net.tables["partners"].set_index("partner_id")
    churn = net.truth["partners"].set_index("partner_id")["churn_month"]
    exited = p["exit_date"].dropna()
    assert len(exited) > 0
    assert churn[exited.index].notna().all()
    gap = (exited - churn[exited.index]).dt.days
    assert gap.between(30, 180).all()


def test_monthly_churn_rate_and_hazard_drive_it(net: synth.SynthNetwork) -> None:
    tpm = net.truth["partner_month"].sort_values(["partner_id", "month"])
    prev_alive = tpm.groupby("partner_id")["alive"].shift(1, fill_value=False)
    at_risk = tpm[prev_alive.to_numpy()]
    event = ~at_risk["alive"]
    assert 0.015 < event.mean() < 0.035
    assert at_risk.loc[event, "hazard"].mean() > 1.2 * at_risk.loc[~event, "hazard"].mean()


def test_hazard_formula(net: synth.SynthNetwork) -> None:
    tpm = net.truth["partner_month"].sort_values(["partner_id", "month"]).reset_index(drop=True)
    params = dict(zip(net.truth["params"]["key"], net.truth["params"]["value"], strict=True))
    k = {c: float(params[f"hazard_{c}"]) for c in ("a0", "b_sat", "b_short", "b_conf", "b_trend")}
    trend = -(tpm["health"] - tpm.groupby("partner_id")["health"].shift(3))
    logit = (k["a0"] + k["b_sat"] * (70 - tpm["satisfaction"]) / 10
             + k["b_short"] * np.log1p(tpm["shortfall_cny"] / 1000) + k["b_conf"] * tpm["open_conflicts"]
             + k["b_trend"] * trend)
    ok = trend.notna()
    assert np.allclose(1 / (1 + np.exp(-logit[ok])), tpm.loc[ok, "hazard"], rtol=1e-9)


def test_rebate_ledger_due_is_rate_times_quarter_net_sales(net: synth.SynthNetwork) -> None:
    o = net.tables["orders"]
    q_sales = o.groupby([o["partner_id"], o["order_date"].dt.to_period("Q")])["net_amount"].sum()
    tpm = net.truth["partner_month"]
    rate = tpm.groupby([tpm["partner_id"], tpm["month"].dt.to_period("Q")])["rate_pp"].first()
    inc = net.tables["incentives"]
    key = list(zip(inc["partner_id"], inc["period_start"].dt.to_period("Q"), strict=True))
    sales = pd.Series([q_sales.get(k, 0.0) for k in key], index=inc.index)
    rates = pd.Series([rate[k] for k in key], index=inc.index)
    # the flat 3 % from 2025Q1 is config/incentives/synthetic_current.yaml's program; 2 % and pilot bumps are not
    current = (rates == 3.0) & (inc["period_start"] >= pd.Timestamp("2025-01-01"))
    assert (inc["program"] == np.where(current, synth.params.CURRENT_PROGRAM, "volume_rebate")).all()
    assert current.any() and not current.all()
    expected_due = (rates / 100 * sales).clip(lower=0).round(2)
    assert np.allclose(inc["amount_due"], expected_due, atol=0.011)
    assert set(rates) >= {2.0, 3.0, 4.0, 5.0}
    assert (inc["period_end"] == inc["period_start"] + pd.offsets.QuarterEnd(0)).all()


def test_rebate_payments_and_shortfall(net: synth.SynthNetwork) -> None:
    inc = net.tables["incentives"]
    assert (inc["amount_paid"] <= inc["amount_due"] + 1e-9).all()
    short = inc["amount_due"] - inc["amount_paid"]
    paid = inc.dropna(subset=["paid_date"])
    lag = (paid["paid_date"] - paid["period_end"]).dt.days
    assert lag.between(30, 60).all()
    # the last quarter ends on the end date: its rebates are not paid yet
    last = inc["period_end"] == END
    assert inc.loc[last, "paid_date"].isna().all() and (inc.loc[last, "amount_paid"] == 0).all()
    underpaid = net.truth["partners"].set_index("partner_id")["underpaid"]
    past = inc[~last & (inc["amount_due"] > 0)]
    short_past = (past["amount_due"] - past["amount_paid"]) > 0.01
    by_partner = short_past.groupby(past["partner_id"]).any()
    assert by_partner[underpaid[by_partner.index].to_numpy()].mean() > 0.8
    assert not by_partner[~underpaid[by_partner.index].to_numpy()].any()
    assert 0.05 < underpaid.mean() < 0.16
    # the truth's shortfall at the window's last month adds up the ledger's past shortfalls
    tpm = net.truth["partner_month"]
    final = tpm[tpm["month"] == tpm["month"].max()].set_index("partner_id")["shortfall_cny"]
    due_before = inc[inc["period_end"] < tpm["month"].max()]
    ledger_short = (due_before["amount_due"] - due_before["amount_paid"]).groupby(due_before["partner_id"]).sum()
    assert np.allclose(final.reindex(ledger_short.index), ledger_short, atol=0.02 * 12)
    assert short.sum() > 0


def test_actions_one_per_partner_and_truth_consistent(net: synth.SynthNetwork) -> None:
    a = net.tables["actions"]
    tp = net.truth["partners"].set_index("partner_id")
    assert a["partner_id"].is_unique
    assert 0.35 < len(a) / len(tp) < 0.6
    assert set(a["action_type"]) == set(synth.ACTION_EFFECTS)
    treated = tp.dropna(subset=["treated_action"])
    assert set(treated.index) == set(a["partner_id"])
    a = a.set_index("partner_id")
    assert (a["action_type"] == treated.loc[a.index, "treated_action"]).all()
    assert (a["action_date"].dt.to_period("M").dt.to_timestamp() == treated.loc[a.index, "treated_month"]).all()
    # Q4 months are favoured (so a naive before/after is seasonally biased)
    q4 = a["action_date"].dt.month.isin([10, 11, 12]).mean()
    assert q4 > 0.35
    # larger partners are treated more often
    big = tp["size"] > tp.groupby("segment")["size"].transform("median")
    assert tp.loc[big, "treated_action"].notna().mean() > tp.loc[~big, "treated_action"].notna().mean()
    # action_on switches on at the treated month
    tpm = net.truth["partner_month"]
    on = tpm[tpm["action_on"]]
    assert (on["month"] >= on["partner_id"].map(tp["treated_month"])).all()
    # every training action writes a trainings row that day
    tr = net.tables["trainings"]
    ta = a[a["action_type"] == "training"]
    got = set(zip(tr["partner_id"], tr["training_date"], strict=True))
    assert all((pid, d) in got for pid, d in zip(ta.index, ta["action_date"], strict=True))


def test_segments_have_distinct_product_mix(net: synth.SynthNetwork) -> None:
    o = net.tables["orders"]
    o = o[~o["is_return"]]
    mix = o.pivot_table(index="partner_id", columns="product_line", values="net_amount", aggfunc="sum",
                        fill_value=0.0)
    mix = mix.div(mix.sum(axis=1), axis=0)
    seg = net.truth["partners"].set_index("partner_id")["segment"].reindex(mix.index)
    centroids = mix.groupby(seg).mean()
    dist = ((mix.to_numpy()[:, None, :] - centroids.to_numpy()[None, :, :]) ** 2).sum(axis=2)
    nearest = centroids.index[dist.argmin(axis=1)]
    assert (nearest == seg.to_numpy()).mean() > 0.85
    assert centroids.loc["ecommerce_reseller", "online_bundle"] > 0.4


def test_retail_dealers_order_on_a_regular_cycle(net: synth.SynthNetwork) -> None:
    o = net.tables["orders"]
    seg = net.truth["partners"].set_index("partner_id")["segment"]
    days = o.loc[o["partner_id"].map(seg) == "retail_dealer", ["partner_id", "order_date"]].drop_duplicates()
    days = days.sort_values(["partner_id", "order_date"])
    gaps = days.groupby("partner_id")["order_date"].diff().dt.days.dropna()
    assert 21 <= gaps.median() <= 42
    per_partner_sd = gaps.groupby(days.loc[gaps.index, "partner_id"]).std()
    assert per_partner_sd.median() < 5


def test_conflicts_and_coverage(net: synth.SynthNetwork) -> None:
    c = net.tables["conflicts"]
    resolved = c.dropna(subset=["resolved_date"])
    assert ((resolved["resolved_date"] - resolved["reported_date"]).dt.days.between(5, 120)).all()
    assert c["resolved_date"].isna().any()
    cp = c.dropna(subset=["counterparty_id"])
    assert len(cp) > 0 and (cp["counterparty_id"] != cp["partner_id"]).all()
    cov = net.tables["coverage"]
    share = cov["partner_id"].nunique() / net.tables["partners"]["partner_id"].nunique()
    assert 0.6 < share < 0.9
    assert (cov["month"] == cov["month"].dt.to_period("M").dt.to_timestamp()).all()


def test_surveys_reflect_latent_satisfaction(net: synth.SynthNetwork) -> None:
    s = net.tables["surveys"]
    tpm = net.truth["partner_month"].set_index(["partner_id", "month"])["satisfaction"]
    latent = tpm.reindex(list(zip(s["partner_id"], s["survey_date"].dt.to_period("M").dt.to_timestamp(),
                                  strict=True))).to_numpy()
    assert np.corrcoef(latent, s["satisfaction"])[0, 1] > 0.6
    assert np.corrcoef(s["nps"], s["satisfaction"])[0, 1] > 0.6


# ---- oracle ---------------------------------------------------------------------------------------


def test_true_churn_probability_matches_hazards(net: synth.SynthNetwork) -> None:
    tpm = net.truth["partner_month"]
    p = synth.true_churn_probability(tpm, as_of=date(2026, 3, 31), horizon_days=90)
    assert list(p.columns) == ["partner_id", "p_churn"]
    alive_march = tpm[(tpm["month"] == "2026-03-01") & tpm["alive"]]
    assert set(p["partner_id"]) == set(alive_march["partner_id"])
    assert p["p_churn"].between(0, 1).all()
    pid = p["partner_id"].iloc[0]
    h = tpm[(tpm["partner_id"] == pid) & tpm["month"].isin(pd.to_datetime(["2026-04-01", "2026-05-01",
                                                                            "2026-06-01"]))]["hazard"]
    assert len(h) == 3
    assert p["p_churn"].iloc[0] == pytest.approx(1 - np.prod(1 - h.to_numpy()))
    longer = synth.true_churn_probability(tpm, as_of=date(2026, 3, 31), horizon_days=150)
    assert (longer.set_index("partner_id")["p_churn"] >= p.set_index("partner_id")["p_churn"] - 1e-12).all()


# ---- dirty mode ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[synth.DirtyExports, Path, dict]:
    """Dirty exports of an 80-partner, 12-month network, ingested into a fresh store (partners first)."""
    from workbench.ingest import ingest_file

    tmp = tmp_path_factory.mktemp("dirty")
    net = synth.generate(partners=80, months=12, seed=4, mode="easy")
    ex = synth.write_dirty_exports(net, tmp / "exports", seed=1)
    db = tmp / "dirty.duckdb"
    con = store.connect(db)
    results = {t: ingest_file(con, t, ex.files[t], run_date=date(2026, 9, 30))
               for t in ("partners", "orders", "incentives")}
    con.disconnect()
    return ex, db, results


def test_dirty_exports_look_like_erp_files(dirty: tuple[synth.DirtyExports, Path, dict]) -> None:
    import openpyxl

    ex, _, _ = dirty
    for t in ("partners", "orders"):
        data = ex.files[t].read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert "经销商编号" in data.decode("gb18030").splitlines()[0]
    text = ex.files["orders"].read_bytes().decode("gb18030")
    assert "\u3000" in text and "¥" in text and "０" in text and "年" in text and "," in text
    sheet = openpyxl.load_workbook(ex.files["incentives"], read_only=True).worksheets[0]
    assert "返利台账" in str(next(sheet.iter_rows(values_only=True))[0])
    assert set(ex.defects["defect"]) == {"duplicated line", "unknown partner id", "unparseable date",
                                         "unmarked negative amount", "empty required field"}


def test_dirty_exports_quarantine_every_defect_and_land_every_good_row(
        dirty: tuple[synth.DirtyExports, Path, dict]) -> None:
    ex, db, results = dirty
    con = store.connect(db, read_only=True)
    raw = store.raw_connection(con)
    for t in ("partners", "orders", "incentives"):
        r = results[t]
        planted = ex.defects[ex.defects["table"] == t]
        assert r.rows_read == ex.rows_read[t]
        assert r.rows_quarantined == len(planted)
        assert r.rows_accepted == len(ex.clean[t])
        got = raw.execute('SELECT row_number, "column", reason FROM quarantine WHERE table_name = ? '
                          "ORDER BY row_number", [t]).fetchall()
        want = list(planted[["row_number", "column", "reason"]].itertuples(index=False, name=None))
        assert got == want, t
        key = TABLES[t].primary_key[0]
        stored = raw.execute(f"SELECT * FROM {t} ORDER BY {key}").df()
        clean = ex.clean[t].sort_values(key).reset_index(drop=True)
        for col in [c for c in TABLES[t].column_names if c in synth.DIRTY_HEADERS[t]]:  # the columns exported
            a, b = stored[col], clean[col]
            if pd.api.types.is_datetime64_any_dtype(b):
                assert (pd.to_datetime(a).fillna(pd.Timestamp(0)) == b.fillna(pd.Timestamp(0))).all(), (t, col)
            elif pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
                assert np.allclose(a.astype(float), b.astype(float), equal_nan=True), (t, col)
            else:
                same = a.astype(object).fillna("") == b.astype(object).fillna("")
                if col == "name":  # names holding double quotes: see the round-trip test below
                    same |= b.str.contains('"', regex=False)
                assert same.all(), (t, col)
    con.disconnect()


def test_dirty_partners_carry_the_platform_and_ingest_keeps_it(dirty: tuple[synth.DirtyExports, Path, dict]) -> None:
    """The optional partners.platform is exported under 电商平台, padded with stray, no-break or ideographic
    spaces on some rows, and lands trimmed and equal to the network's (null for partners without one)."""
    ex, db, _ = dirty
    header, *lines = ex.files["partners"].read_bytes().decode("gb18030").splitlines()
    assert "电商平台" in header.split(",")
    cells = [line.rsplit(",", 1)[-1] for line in lines]  # the last column
    platforms = set(synth.tables.PLATFORMS)
    assert {c.strip(" \u3000\u00a0") for c in cells} - {""} <= platforms
    assert any(c != c.strip(" \u3000\u00a0") and c.strip(" \u3000\u00a0") for c in cells), "no padded platform"
    con = store.connect(db, read_only=True)
    stored = store.raw_connection(con).execute("SELECT partner_id, platform FROM partners").df()
    con.disconnect()
    want = ex.clean["partners"].set_index("partner_id")["platform"]
    got = stored.set_index("partner_id")["platform"].reindex(want.index)
    assert want.notna().sum() >= 5 and set(want.dropna()) <= platforms
    assert (got.isna() == want.isna()).all() and (got.dropna() == want.dropna()).all()


def test_dirty_partner_names_with_double_quotes_round_trip(dirty: tuple[synth.DirtyExports, Path, dict]) -> None:
    ex, db, _ = dirty
    con = store.connect(db, read_only=True)
    stored = store.raw_connection(con).execute("SELECT name FROM partners").df()["name"]
    con.disconnect()
    quoted = ex.clean["partners"]["name"][ex.clean["partners"]["name"].str.contains('"', regex=False)]
    assert len(quoted) > 0
    assert set(quoted) <= set(stored)


def test_cli_demo_dirty_writes_exports_that_ingest_as_promised(tmp_path, capsys):
    """`workbench demo --dirty DIR` writes the messy exports; ingesting them in the printed order lands
    every good row and quarantines exactly the planted defects."""
    from workbench.cli import main

    out = tmp_path / "exports"
    assert main(["demo", "--partners", "40", "--months", "12", "--seed", "3", "--dirty", str(out)]) == 0
    printed = capsys.readouterr().out
    lines = [ln for ln in printed.splitlines() if ": " in ln and "planted defects" in ln]
    assert [ln.split(":")[0] for ln in lines][0] == "partners"
    db = tmp_path / "dirty.duckdb"
    quarantined = 0
    for ln in lines:
        table, rest = ln.split(": ", 1)
        path = rest.split(" (")[0]
        assert main(["ingest", table, path, "--db", str(db)]) == 0
        quarantined += int(rest.split(", ")[1].split(" ")[0])
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == quarantined > 0
    con.close()
