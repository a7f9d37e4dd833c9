"""The funnel read back from report items: summed over shards and days, with shares, speeds, revenue and CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from leadflow.report.funnel import as_csv, as_json, funnel, rule_table, safe_cell


def item(day: str, shard: int, **figures: int) -> dict[str, Any]:
    """A report item; figure keys spell "|" as "__" (figure__value)."""
    return {"pk": "REPORT#source", "sk": f"{day}#{shard:02d}", **{k.replace("__", "|"): v for k, v in figures.items()}}


ITEMS = [
    item("2026-10-01", 0, captured__google=3, marketing_qualified__google=2, won__google=1),
    item("2026-10-01", 7, captured__google=1, captured__partner=2, **{"revenue:EUR__google": 150050}),
    item("2026-10-02", 3, captured__google=6, lost__google=1, **{"lost:price__google": 1}),
]


def test_the_figures_of_every_shard_and_day_add_up_by_value_and_in_total() -> None:
    report = funnel(ITEMS, "source", "2026-10-01", "2026-10-02")

    assert [row.value for row in report.rows] == ["google", "partner"]  # most captured first
    google = report.rows[0]
    assert (google.get("captured"), google.get("won"), google.get("lost")) == (10, 1, 1)
    assert report.total.get("captured") == 12
    assert google.revenue() == {"EUR": "1500.50"}
    assert google.reasons("lost") == {"price": 1}
    assert report.items_read == 3


def test_conversion_is_each_stage_as_a_share_of_the_one_before_it() -> None:
    google = funnel(ITEMS, "source", "2026-10-01", "2026-10-02").rows[0]

    shares = google.conversion()
    assert shares["marketing_qualified"] == 0.2  # 2 of 10 captured
    assert shares["sales_ready"] == 0.0
    assert shares["assigned"] is None  # nothing reached sales_ready to convert from
    assert shares["won_of_closed"] == 0.5


def test_speed_reads_back_the_bucket_of_the_median_and_the_90th_percentile() -> None:
    buckets = {"to_owner:1|x": 5, "to_owner:15|x": 4, "to_owner:more|x": 1}
    row = funnel([{"sk": "2026-10-01#00", **buckets}], "source", "2026-10-01", "2026-10-01").rows[0]

    assert row.speed("to_owner") == {"leads": 10, "median": 1, "p90": 15}
    assert row.speed("to_accept") == {"leads": 0, "median": None, "p90": None}


def test_a_value_a_spreadsheet_would_run_as_a_formula_is_written_as_text() -> None:
    hostile = [{"sk": "2026-10-01#00", 'captured|=HYPERLINK("http://evil")': 1, "captured|-2+3": 1, "captured|@x": 1}]
    text = as_csv(funnel(hostile, "campaign", "2026-10-01", "2026-10-01"))

    values = sorted(row[0] for row in list(csv.reader(io.StringIO(text)))[1:-1])
    assert values == ["'-2+3", '\'=HYPERLINK("http://evil")', "'@x"]
    assert (safe_cell(-3), safe_cell("0.25"), safe_cell(None), safe_cell("plain")) == ("-3", "0.25", "", "plain")


def test_the_csv_has_a_row_per_value_then_the_total_with_revenue_per_currency() -> None:
    rows = list(csv.reader(io.StringIO(as_csv(funnel(ITEMS, "source", "2026-10-01", "2026-10-02")))))

    header = rows[0]
    assert header[:3] == ["source", "name", "captured"]
    assert header[-1] == "revenue_EUR"
    assert [row[0] for row in rows[1:]] == ["google", "partner", "(all)"]
    assert rows[-1][header.index("captured")] == "12"
    assert rows[1][header.index("revenue_EUR")] == "1500.50"


def test_the_json_names_owners_and_says_how_figures_are_dated() -> None:
    owners = [{"sk": "2026-10-01#00", "captured|rep_ann": 2}]
    answer = as_json(funnel(owners, "owner", "2026-10-01", "2026-10-01"), {"rep_ann": "Ann Example"})

    assert answer["rows"][0]["name"] == "Ann Example"
    assert answer["rows"][0]["stages"]["captured"] == 2
    assert "captured" in answer["dated_by"]


def test_a_rules_win_rate_stands_beside_the_base_rate_with_its_counts() -> None:
    total = funnel([{"sk": "d#00", "won|a": 2, "lost|a": 6}], "source", "", "").total  # base: 2 of 8 closed
    rules = [{"sk": "d#00", "won|ceo": 2, "lost|ceo": 2, "lost|student": 3}]

    table = rule_table(rules, total)

    assert table["base"] == {"rule": "(all)", "won": 2, "lost": 6, "closed": 8, "win_rate": 0.25, "lift": 1.0}
    assert [(r["rule"], r["win_rate"], r["closed"], r["lift"]) for r in table["rules"]] == [
        ("ceo", 0.5, 4, 2.0),
        ("student", 0.0, 3, 0.0),
    ]


def test_verify_names_each_figure_the_report_items_hold_more_or_less_of_than_the_leads() -> None:
    from leadflow.report.verify import Recount

    profile = {"pk": "LEAD#L1", "sk": "PROFILE", "lead_id": "L1", "created_at": "2026-10-01T09:00:00.000+00:00",
               "first_touch": {"utm_source": "google"}, "report": {"counted": {"captured": "", "won": "ann"}},
               "won": {"amount": "10", "currency": "EUR"}}  # fmt: skip
    tally = Recount.empty()
    tally.add([profile])
    for dimension, value in (("source", "google"), ("medium", "(none)"), ("campaign", "(none)"),
                             ("inquiry_type", "(none)")):  # fmt: skip
        tally.add([{"pk": f"REPORT#{dimension}", "sk": "2026-10-01#03", f"captured|{value}": 1, f"won|{value}": 1,
                    f"revenue:EUR|{value}": 1000}])  # fmt: skip
    tally.add([{"pk": "REPORT#owner", "sk": "2026-10-01#03", "captured|(none)": 1, "won|ann": 1}])
    tally.add([{"pk": "REPORT#owner", "sk": "2026-10-01#08", "won|ann": 1}])  # counted twice, on another shard

    assert [(d.dimension, d.figure, d.value, d.counted, d.recounted) for d in tally.differences()] == [
        ("owner", "revenue:EUR", "ann", 0, 1000),
        ("owner", "won", "ann", 2, 1),
    ]
    assert tally.leads == 1


def test_the_page_prints_what_a_website_sent_as_text_never_as_markup() -> None:
    from leadflow.report.page import funnel_page

    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    items = [{"sk": "2026-10-01#00", f"captured|{hostile}": 2, f"won|{hostile}": 1, f"revenue:EUR|{hostile}": 900}]

    page = funnel_page(funnel(items, "campaign", "2026-10-01", "2026-10-01"))

    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "9.00 EUR" in page


def test_an_empty_report_is_a_page_that_says_so_with_no_bars() -> None:
    from leadflow.report.page import funnel_page

    page = funnel_page(funnel([], "source", "2026-10-01", "2026-10-31"))

    assert "No lead captured in these days has been won yet." in page
    assert 'width="0"' in page  # every stage's bar is empty
    assert "None rejected or lost." in page
