"""Dirty mode: the network's partners, orders and rebate ledger written the way real ERPs export them, with planted defects and the quarantine that ingesting them must produce."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.store import TABLES
from workbench.synth.world import (
    SynthNetwork,
)

DIRTY_HEADERS: dict[str, dict[str, str]] = {
    "partners": {"partner_id": "经销商编号", "name": "经销商名称", "region": "区域", "province": "省份",
                 "city": "城市", "channel_type": "渠道类型", "onboard_date": "合作日期", "exit_date": "终止日期",
                 "contact_name": "联系人", "contact_phone": "联系电话", "platform": "电商平台"},
    "orders": {"order_id": "订单行号", "partner_id": "经销商编号", "order_date": "下单日期",
               "product_line": "产品线", "quantity": "数量", "net_amount": "金额", "list_amount": "牌价金额",
               "is_return": "是否退货"},
    "incentives": {"incentive_id": "返利编号", "partner_id": "经销商编号", "program": "返利政策",
                   "period_start": "开始日期", "period_end": "结束日期", "amount_due": "应返金额",
                   "amount_paid": "实付金额", "paid_date": "付款日期"},
}
DIRTY_FILES = {"partners": "经销商.csv", "orders": "订单明细.csv", "incentives": "返利台账.xlsx"}
CHANNEL_ZH = {"distributor": "经销商", "wholesaler": "批发商", "dealer": "代理商", "retailer": "零售商",
              "ecommerce": "电商", "key_account": "大客户", "other": "其他"}
_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


@dataclass(frozen=True)
class DirtyExports:
    """Files written by write_dirty_exports and what ingesting them must give.

    files: table -> path (ingest partners first: the others reference its partner ids);
    defects: one row per planted bad line: table, file, row_number (data rows, 1 = first under the header),
    column, reason (ingest.reason_text), defect; rows_read: table -> data rows in the file.
    Every other line is a good row that must land equal to `clean[table]`.
    """

    files: dict[str, Path]
    defects: pd.DataFrame
    rows_read: dict[str, int]
    clean: dict[str, pd.DataFrame]


def _fmt_dates(rng: np.random.Generator, s: pd.Series) -> pd.Series:
    """Dates as text in the mixed formats ERPs export (ISO, slashes, 年月日, YYYYMMDD); empty for NaT."""
    style = rng.integers(0, 4, size=len(s))
    out = pd.Series("", index=s.index, dtype=object)
    ok = s.notna().to_numpy()
    for k, fmt in enumerate(("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d")):
        m = ok & (style == k)
        out[m] = s[m].dt.strftime(fmt).to_numpy()
    return out


def _noise_ids(rng: np.random.Generator, s: pd.Series, share: float = 0.1) -> pd.Series:
    """Ids with stray whitespace or full-width digits on a share of rows (both normalize back on ingest)."""
    out = s.astype(object).copy()
    pick = rng.random(len(s))
    ws = pick < share / 2
    fw = (pick >= share / 2) & (pick < share)
    out[ws] = [f" {v}\u3000" for v in out[ws]]
    out[fw] = [v.translate(_FULL_WIDTH) for v in out[fw]]
    return out


def _pad_text(rng: np.random.Generator, s: pd.Series, share: float = 0.2) -> pd.Series:
    """Optional free text as ERPs export it: empty for null; on a share of rows stray ASCII, no-break or
    ideographic spaces around the value (ingest trims them back)."""
    out = s.astype(object).where(s.notna(), "")
    pick = rng.random(len(s))
    has = (out != "").to_numpy()
    for lo, (head, tail) in enumerate(((" ", "\u3000"), ("", "  "), ("\u00a0", ""))):
        m = has & (pick >= lo * share / 3) & (pick < (lo + 1) * share / 3)
        out[m] = [f"{head}{v}{tail}" for v in out[m]]
    return out


def _fmt_money(rng: np.random.Generator, s: pd.Series) -> pd.Series:
    """Amounts as text: plain, with thousands separators, with a ¥ sign, or in full-width digits."""
    style = rng.integers(0, 8, size=len(s))
    out = pd.Series("", index=s.index, dtype=object)
    ok = s.notna().to_numpy()
    vals = s.to_numpy(dtype=float)
    for i in np.flatnonzero(ok):
        v = vals[i]
        st = style[i]
        if st == 5:
            out.iat[i] = f"{v:,.2f}"
        elif st == 6:
            out.iat[i] = f"¥{v:.2f}"
        elif st == 7:
            out.iat[i] = f"{v:.2f}".translate(_FULL_WIDTH)
        else:
            out.iat[i] = f"{v:.2f}"
    return out


def _place(rng: np.random.Generator, good: pd.DataFrame, bad: pd.DataFrame, after: np.ndarray,
           ) -> tuple[pd.DataFrame, np.ndarray]:
    """Insert `bad` rows among `good` rows at random places (each after good row `after[k]`, or anywhere if -1).

    Returns the combined frame and the 1-based row numbers of the bad rows.
    """
    n = len(good)
    lo = np.where(after >= 0, after + 0.5, -0.5)
    key_bad = lo + rng.random(len(bad)) * (n - 0.5 - lo)
    key = np.concatenate([np.arange(n, dtype=float), key_bad])
    order = np.argsort(key, kind="stable")
    combined = pd.concat([good, bad], ignore_index=True).iloc[order].reset_index(drop=True)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return combined, rank[n:] + 1


def write_dirty_exports(net: SynthNetwork, out_dir: str | Path, *, seed: int = 0, defects: int = 3) -> DirtyExports:
    """Write partners / orders (gb18030 CSV, Chinese headers) and the rebate ledger (XLSX under a title row).

    Good rows carry harmless mess (stray and ideographic spaces, full-width digits, thousands separators,
    ¥ signs, mixed date formats, Chinese channel names, 是/否, padded e-commerce platforms) that ingestion must
    normalize; `defects` bad
    lines of each kind are added: duplicated lines, unknown partner ids, unparseable dates, unmarked negative
    amounts, empty required fields. Returns the files and the expected quarantine (DirtyExports).
    """
    from workbench.ingest import reason_text

    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k = int(defects)
    records: list[dict[str, object]] = []
    files: dict[str, Path] = {}
    rows_read: dict[str, int] = {}

    def planted(table: str, rows: np.ndarray, column: str, kind: str, defect: str) -> None:
        col = column if kind != "duplicate" else TABLES[table].primary_key[-1]
        for r in rows:
            records.append({"table": table, "file": DIRTY_FILES[table], "row_number": int(r), "column": col,
                            "reason": reason_text(kind, column, table), "defect": defect})

    # ---- partners -----------------------------------------------------------------------------------
    p = net.tables["partners"]
    txt = pd.DataFrame({
        "partner_id": _noise_ids(rng, p["partner_id"]),
        "name": p["name"].astype(object),
        "region": p["region"].astype(object),
        "province": p["province"].astype(object),
        "city": p["city"].astype(object),
        "channel_type": p["channel_type"].map(CHANNEL_ZH).astype(object),
        "onboard_date": _fmt_dates(rng, p["onboard_date"]),
        "exit_date": _fmt_dates(rng, p["exit_date"]),
        "contact_name": p["contact_name"].astype(object),
        "contact_phone": p["contact_phone"].astype(object),
        # a generator of its own, so adding the column left every other draw of the exports unchanged
        "platform": _pad_text(np.random.default_rng([seed, 1]), p["platform"]),
    })
    trail = rng.random(len(txt)) < 0.1
    txt.loc[trail, "name"] = txt.loc[trail, "name"] + "  "
    dup_src = rng.choice(len(txt), size=min(k, len(txt)), replace=False)
    dup = txt.iloc[dup_src].copy()
    base = txt.iloc[rng.choice(len(txt), size=2 * k)].copy().reset_index(drop=True)
    base["partner_id"] = [f"P9{j:06d}" for j in range(2 * k)]
    bad_date = base.iloc[:k].copy()
    bad_date["onboard_date"] = [("2023-13-45", "去年三月", "N/A")[j % 3] for j in range(k)]
    no_name = base.iloc[k:].copy()
    no_name["name"] = ""
    bad = pd.concat([dup, bad_date, no_name], ignore_index=True)
    after = np.concatenate([dup_src, np.full(2 * k, -1)])
    full, rows = _place(rng, txt, bad, after)
    planted("partners", rows[:len(dup)], "partner_id", "duplicate", "duplicated line")
    planted("partners", rows[len(dup):len(dup) + k], "onboard_date", "not_date", "unparseable date")
    planted("partners", rows[len(dup) + k:], "name", "missing", "empty required field")
    path = out / DIRTY_FILES["partners"]
    full.rename(columns=DIRTY_HEADERS["partners"]).to_csv(path, index=False, encoding="gb18030")
    files["partners"], rows_read["partners"] = path, len(full)

    # ---- orders ---------------------------------------------------------------------------------------
    o = net.tables["orders"]
    ret = o["is_return"].to_numpy()
    yes_no = np.where(ret, np.array(["是", "true", "1", "退货"], dtype=object)[rng.integers(0, 4, len(o))],
                      np.array(["否", "false", "0", "否"], dtype=object)[rng.integers(0, 4, len(o))])
    qty = o["quantity"].to_numpy()
    txt = pd.DataFrame({
        "order_id": _noise_ids(rng, o["order_id"], 0.05),
        "partner_id": _noise_ids(rng, o["partner_id"]),
        "order_date": _fmt_dates(rng, o["order_date"]),
        "product_line": o["product_line"].astype(object),
        "quantity": pd.Series([f"{q:.0f}" for q in qty], dtype=object),
        "net_amount": _fmt_money(rng, o["net_amount"]),
        "list_amount": _fmt_money(rng, o["list_amount"]),
        "is_return": pd.Series(yes_no, dtype=object),
    })
    sales_rows = np.flatnonzero(~ret & (o["net_amount"].to_numpy() > 0))
    dup_src = rng.choice(len(txt), size=min(k, len(txt)), replace=False)
    dup = txt.iloc[dup_src].copy()
    base_idx = rng.choice(sales_rows, size=3 * k)
    base = txt.iloc[base_idx].copy().reset_index(drop=True)
    base["order_id"] = [f"OX{j:08d}-1" for j in range(3 * k)]
    unknown = base.iloc[:k].copy()
    unknown["partner_id"] = [f"P8{j:06d}" for j in range(k)]
    bad_date = base.iloc[k:2 * k].copy()
    bad_date["order_date"] = [("2025-02-30", "三月五日", "N/A")[j % 3] for j in range(k)]
    negative = base.iloc[2 * k:].copy()
    negative["net_amount"] = [f"-{v:.2f}" for v in o["net_amount"].to_numpy()[base_idx[2 * k:]]]
    negative["is_return"] = "否"
    bad = pd.concat([dup, unknown, bad_date, negative], ignore_index=True)
    after = np.concatenate([dup_src, np.full(3 * k, -1)])
    full, rows = _place(rng, txt, bad, after)
    planted("orders", rows[:len(dup)], "order_id", "duplicate", "duplicated line")
    planted("orders", rows[len(dup):len(dup) + k], "partner_id", "fk", "unknown partner id")
    planted("orders", rows[len(dup) + k:len(dup) + 2 * k], "order_date", "not_date", "unparseable date")
    planted("orders", rows[len(dup) + 2 * k:], "net_amount", "negative", "unmarked negative amount")
    path = out / DIRTY_FILES["orders"]
    full.rename(columns=DIRTY_HEADERS["orders"]).to_csv(path, index=False, encoding="gb18030")
    files["orders"], rows_read["orders"] = path, len(full)

    # ---- incentives: XLSX with a title row above the header ----------------------------------------
    import openpyxl

    inc = net.tables["incentives"]
    cells = pd.DataFrame({
        "incentive_id": inc["incentive_id"].astype(object),
        "partner_id": _noise_ids(rng, inc["partner_id"]),
        "program": inc["program"].astype(object),
        "period_start": [d.to_pydatetime() for d in inc["period_start"]],
        "period_end": [d.to_pydatetime() for d in inc["period_end"]],
        "amount_due": inc["amount_due"].astype(float),
        "amount_paid": inc["amount_paid"].astype(float),
        "paid_date": [None if pd.isna(d) else d.to_pydatetime() for d in inc["paid_date"]],
    }).astype(object)
    dup_src = rng.choice(len(cells), size=min(k, len(cells)), replace=False)
    dup = cells.iloc[dup_src].copy()
    unknown = cells.iloc[rng.choice(len(cells), size=k)].copy().reset_index(drop=True)
    unknown["incentive_id"] = [f"IX{j:07d}" for j in range(k)]
    unknown["partner_id"] = [f"P8{j:06d}" for j in range(k)]
    bad = pd.concat([dup, unknown], ignore_index=True)
    full, rows = _place(rng, cells, bad, np.concatenate([dup_src, np.full(k, -1)]))
    planted("incentives", rows[:len(dup)], "incentive_id", "duplicate", "duplicated line")
    planted("incentives", rows[len(dup):], "partner_id", "fk", "unknown partner id")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "返利台账"
    ws.append(["经销商返利台账（系统导出）"])
    ws.append([f"导出日期：{net.params.get('end', '')}"])
    ws.append([])
    ws.append([DIRTY_HEADERS["incentives"][c] for c in TABLES["incentives"].column_names])
    for row in full.itertuples(index=False):
        ws.append([None if (isinstance(v, float) and np.isnan(v)) else v for v in row])
    path = out / DIRTY_FILES["incentives"]
    wb.save(path)
    files["incentives"], rows_read["incentives"] = path, len(full)

    defects_df = pd.DataFrame(records, columns=["table", "file", "row_number", "column", "reason", "defect"])
    clean = {t: net.tables[t] for t in files}
    return DirtyExports(files=files, defects=defects_df.sort_values(["table", "row_number"]).reset_index(drop=True),
                        rows_read=rows_read, clean=clean)
