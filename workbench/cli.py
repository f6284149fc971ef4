"""The `workbench` command (stable contract in docs/CONTRIBUTING.md, "Command line"); each subcommand calls one package function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from workbench.errors import WorkbenchError
from workbench.paths import default_db


def write_table(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write a result table as UTF-8 CSV with header, or as Excel when `out` ends in .xlsx."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".xlsx":
        frame.to_excel(out, index=False)
    elif out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False, encoding="utf-8")
    else:
        raise WorkbenchError(f"Output file {out} must end in .csv or .xlsx.")
    return out


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text).normalize()
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (use YYYY-MM-DD)") from exc


def _store_arg(text: str) -> Path | str:
    """--db: a path, or a connection URL kept as text (a Path would fold its '//')."""
    from workbench.backends import is_url

    return text if is_url(text) else Path(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="Channel Workbench: channel partner analytics.")
    sub = p.add_subparsers(dest="command", required=True)

    def with_db(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--db", type=_store_arg, default=None,
                        help="DuckDB store (default $WORKBENCH_DB, then data/workbench.duckdb); segment, churn, "
                             "whatif, retro and report also take an Ibis connection URL")
        return sp

    d = with_db(sub.add_parser("demo", help="generate the synthetic channel network and ingest it"))
    d.add_argument("--mode", choices=["realistic", "easy"], default="realistic",
                   help="realistic (default): overlapping segments, heavy tails, thousands of SKUs, missing data; "
                        "easy: clean planted truth")
    d.add_argument("--partners", type=int, default=2000)
    d.add_argument("--months", type=int, default=36)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--dirty", type=Path, default=None, metavar="DIR",
                   help="instead of a store, write the network as messy ERP exports (gb18030 CSV with Chinese "
                        "headers, an XLSX under a title row, planted defects) to DIR, to try `workbench ingest` on")
    d.add_argument("--force", action="store_true", help="replace the store even if it holds loads other than the demo's")
    d.add_argument("--check", action="store_true", help="only check that the store may be replaced (make clean)")

    i = with_db(sub.add_parser("ingest", help="validate and load a CSV / XLSX / Parquet export into a table"))
    i.add_argument("table")
    i.add_argument("file", type=Path)
    i.add_argument("--map", dest="mapping", type=Path, default=None, help="header mapping YAML (default config/mapping.yaml)")
    i.add_argument("--strict", action="store_true", help="exit non-zero if any row was quarantined")
    i.add_argument("--replace", action="store_true",
                   help="each row of the file is the whole record: columns it lacks become empty (default: "
                        "update only the file's columns)")
    i.add_argument("--effective", type=_date, default=None,
                   help="date partner region/channel/manager changes take effect (default: today)")

    ld = with_db(sub.add_parser("loads", help="list every load (ingest) of the store"))
    ld.add_argument("--out", type=Path, default=None, help="write the list to .csv or .xlsx instead of printing it")

    rl = with_db(sub.add_parser("rollback", help="undo one load: restore every row it inserted or changed"))
    rl.add_argument("load_id", type=int)

    s = with_db(sub.add_parser("segment", help="tier scorecard and clusters per partner"))
    s.add_argument("--as-of", type=_date, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--top-lines", type=int, default=10, metavar="N",
                   help="product lines kept in the mix features, the rest rolled up into 'other' (default 10)")

    c = with_db(sub.add_parser("churn", help="churn risk list"))
    c.add_argument("--as-of", type=_date, required=True)
    c.add_argument("--horizon-days", type=int, default=90)
    c.add_argument("--out", type=Path, required=True)

    w = with_db(sub.add_parser("whatif", help="simulate an incentive program"))
    w.add_argument("program", type=Path)
    w.add_argument("--as-of", type=_date, default=None)
    w.add_argument("--out", type=Path, required=True)

    r = with_db(sub.add_parser("retro", help="quarterly KPI table"))
    r.add_argument("--quarter", required=True)
    r.add_argument("--programs", type=Path, default=None,
                   help="folder of program YAML files for the rebate KPIs (default config/incentives/)")
    r.add_argument("--out", type=Path, required=True)

    rb = with_db(sub.add_parser("rebates", help="audit the rebate ledger: recompute every row, classify, never net"))
    rb.add_argument("--quarter", required=True, help="ledger periods ending in this quarter, e.g. 2026Q2")
    rb.add_argument("--programs", type=Path, default=None, help="folder of program YAML files (default config/incentives/)")
    rb.add_argument("--region", default=None, help="only this region's partners")
    rb.add_argument("--out", type=Path, required=True, help="audit table, .csv or .xlsx")
    rb.add_argument("--statements", type=Path, default=None, help="also write one statement (HTML + XLSX) per partner here")
    rb.add_argument("--lang", choices=["en", "zh", "both"], default="both", help="language of the statements")

    ct = with_db(sub.add_parser("contacts", help="contact cadence: days since each active partner's last visit or call"))
    ct.add_argument("--as-of", type=_date, required=True)
    ct.add_argument("--manager", default=None, help="only this channel manager's partners (manager_id)")
    ct.add_argument("--region", default=None, help="only this region's partners")
    ct.add_argument("--out", type=Path, required=True)

    rp = with_db(sub.add_parser("report", help="render the HTML report pack"))
    rp.add_argument("--quarter", default=None, help="e.g. 2026Q3 (default: latest complete quarter in the store)")
    rp.add_argument("--region", default="all")
    rp.add_argument("--lang", choices=["en", "zh"], default="en")
    rp.add_argument("--manager", default=None, help="one pack of this manager's partners (manager_id or name)")
    rp.add_argument("--company-only", action="store_true", help="with --region all: the company pack only")
    rp.add_argument("--xlsx", action="store_true", help="also write each pack's tables as one Excel workbook")
    rp.add_argument("--zip", action="store_true", help="also write each pack as one .zip archive to forward")
    rp.add_argument("--out", type=Path, default=Path("reports"))
    return p


def _run(args: argparse.Namespace) -> int:
    db = args.db if args.db is not None else default_db()
    if isinstance(db, str) and args.command in ("demo", "ingest", "loads", "rollback"):
        raise WorkbenchError(f"workbench {args.command} works on a DuckDB store file; give --db a path (a connection "
                             "URL is for segment, churn, whatif, retro, rebates, contacts and report).")
    out = getattr(args, "out", None)
    if out is not None and args.command != "report" and Path(out).suffix.lower() not in (".csv", ".xlsx"):
        raise WorkbenchError(f"Output file {out} must end in .csv or .xlsx.")  # before any work
    if args.command == "demo" and args.dirty is not None:
        from workbench.synth import generate, write_dirty_exports

        ex = write_dirty_exports(generate(partners=args.partners, months=args.months, seed=args.seed), args.dirty,
                                 seed=args.seed)
        for table, path in ex.files.items():
            planted = int((ex.defects["table"] == table).sum())
            print(f"{table}: {path} ({ex.rows_read[table]:,} rows, {planted} planted defects)")
        print("Ingest them in this order: workbench ingest TABLE FILE [--db PATH]; every planted defect "
              "lands in quarantine with its reason, every other row in the store.")
        return 0
    if args.command == "demo":
        from workbench.ingest import check_demo_may_replace
        from workbench.synth import build_demo_store

        check_demo_may_replace(db, force=args.force)
        if args.check:
            print(f"{db} holds no loads but the demo's (or --force): it may be replaced.")
            return 0
        summary = build_demo_store(db, partners=args.partners, months=args.months, seed=args.seed,
                                   mode=args.mode)
        print(summary)
        return 0
    if args.command == "ingest":
        from workbench.ingest import ingest_file
        from workbench.store import connect

        effective = args.effective.date() if args.effective is not None else None
        con = connect(db)
        try:
            result = ingest_file(con, args.table, args.file, mapping=args.mapping, progress=True,
                                 replace=args.replace, effective=effective)
        finally:
            con.disconnect()
        print(result.summary())
        return 1 if args.strict and result.rows_quarantined else 0
    if args.command in ("loads", "rollback"):
        from workbench.ingest import list_loads, rollback_load
        from workbench.store import connect

        con = connect(db, read_only=args.command == "loads")
        try:
            if args.command == "rollback":
                print(rollback_load(con, args.load_id).summary())
                return 0
            loads = list_loads(con)
        finally:
            con.disconnect()
        if args.out is not None:
            print(f"Wrote {len(loads):,} loads to {write_table(loads, args.out)}.")
        else:
            print(loads.to_string(index=False) if len(loads) else f"The store {db} has no loads yet.")
        return 0
    if args.command == "report":
        from workbench.reports import render_pack

        result = render_pack(db, quarter=args.quarter, region=None if args.manager else args.region,
                             lang=args.lang, out=args.out, manager=args.manager,
                             each_region=not args.company_only, xlsx=args.xlsx, zip=args.zip)
        print(result.summary())
        for archive in result.archives:
            print(f"Wrote {archive}.")
        return 1 if result.missing else 0  # a page that says a section failed is still a page

    from workbench.backends import connect

    con = connect(db, read_only=True)
    if args.command == "segment":
        from workbench.segment import segment_table

        frame = segment_table(con, as_of=args.as_of, top_lines=args.top_lines)
    elif args.command == "churn":
        from workbench import churn
        from workbench.present.churn import risk_table
        from workbench.vocab import store_currency

        detail = churn.risk_list(con, as_of=args.as_of, horizon_days=args.horizon_days, detail=True)
        frame = risk_table(detail, "en", currency=store_currency(con))
    elif args.command == "whatif":
        from workbench.incentives import whatif_table
        from workbench.present.incentives import summary_line
        from workbench.vocab import store_currency

        frame, figures = whatif_table(con, args.program, as_of=args.as_of)
        print(summary_line(figures, "en", currency=store_currency(con)))
    elif args.command == "rebates":
        from workbench.present.rebates import audit_file_frame, audit_summary_line
        from workbench.rebates import audit_store
        from workbench.vocab import store_currency

        audit = audit_store(con, quarter=args.quarter, programs_dir=args.programs, region=args.region)
        currency = store_currency(con)
        print(audit_summary_line(audit, "en", currency=currency))
        if args.statements is not None:
            from workbench.present.rebates import write_statements

            written = write_statements(con, audit, args.statements, quarter=args.quarter, lang=args.lang,
                                       currency=currency, programs_dir=args.programs)
            print(f"Wrote {len(written):,} partner statements to {args.statements}.")
        frame = audit_file_frame(audit)
    elif args.command == "retro":
        from workbench.retro import kpi_table

        frame = kpi_table(con, quarter=args.quarter, programs_dir=args.programs)
    elif args.command == "contacts":
        from workbench.relations import contacts_from_store

        frame = contacts_from_store(con, as_of=args.as_of, region=args.region, manager=args.manager)
    else:  # pragma: no cover - argparse guards this
        raise WorkbenchError(f"Unknown command {args.command}.")
    out = write_table(frame, args.out)
    print(f"Wrote {len(frame):,} rows to {out}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse arguments, run, print errors as one sentence on stderr with exit code 2."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # what a user's machine can cause (lock, permission, disk full): one sentence
        sentence = _environment_error(exc, args.db if args.db is not None else default_db())
        if sentence is None:
            raise
        print(f"error: {sentence}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130


def _environment_error(exc: BaseException, db: Path) -> str | None:
    """One sentence for an error the machine raised (store locked, permission, disk full), else None."""
    import errno
    import re

    import duckdb

    text = str(exc)
    if isinstance(exc, duckdb.Error) and "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        who = f"process {pid.group(1)}" if pid else "another process"
        return (f"The store {db} is open in {who} (a Jupyter kernel or another workbench command); close it there "
                f"(shut the kernel down, or con.disconnect()) or stop that process, then run this again.")
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "no space left" in text.lower():
        return (f"The disk is full (writing {getattr(exc, 'filename', None) or db}); nothing was changed: free some "
                f"space and run this again.")
    if isinstance(exc, PermissionError) or "permission denied" in text.lower():
        where = getattr(exc, "filename", None) or db
        return f"Permission denied for {where}: run as a user who may write there, or choose another --db / --out."
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename or db}."
    return None


if __name__ == "__main__":
    sys.exit(main())
