"""The Online Retail store (issue #12): the company pack and every country's pack (37) in English and the
United Kingdom pack in Chinese render clean: every page produced, no error output, nothing raw or executable,
money in GBP.

Its own module, so `pytest --dist loadfile` runs it beside tests/test_reports_realstores.py. Times:
bench/report.py --db on the store (docs/reports.md).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests import realstores
from tests.test_reports_realstores import _assert_clean_pack, _pages
from workbench.reports import render_pack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retail(realstore) -> Path:
    return realstore("online_retail")


def test_online_retail_packs(retail: Path, tmp_path: Path):
    """The company pack and every country's pack in English and the United Kingdom pack in Chinese render
    clean (every page, no error output, nothing raw), money in GBP."""
    q = realstores.quarter_of("online_retail")
    con = duckdb.connect(str(retail), read_only=True)
    countries = sorted(r for (r,) in con.execute("SELECT DISTINCT region FROM partners").fetchall())
    con.close()
    assert len(countries) == 37  # the Online Retail export's countries with a customer id
    company = render_pack(retail, quarter=q, region="all", lang="en", out=tmp_path / "en", progress=False,
                          each_region=True)
    assert [str(s) for s in company.params.scopes] == ["all", *countries]
    assert {r.pack for r in company.runs} == {"all", *countries}
    _assert_clean_pack(company, currency="GBP")
    uk = render_pack(retail, quarter=q, region="United Kingdom", lang="zh", out=tmp_path / "zh", progress=False)
    _assert_clean_pack(uk, currency="GBP")
    for scope in company.params.scopes:  # every pack, every page shows pounds
        text = "\n".join(_pages(company.out / q / scope.slug).values())
        assert "£" in text and "(GBP)" in text, scope
