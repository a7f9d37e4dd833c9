"""The report, end to end on moto: known leads through every stage, every figure checked by hand.

Eight leads of the demo client go through the functions unchanged (intake, route, the SLA
sweep, the rep API): junk, nurture, marketing-qualified, unsubscribed, rejected, lost, won in
two currencies, and one whose accept deadline is reminded, breached, reassigned and escalated.
The funnel by source (JSON and CSV), the owner view, the rule table and `leadflow report
verify` must then say exactly what a person counting by hand says, and stay so when every
message is delivered a second time.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadflow.cli import app
from leadflow.cli.table_scans import report_scan
from leadflow.nurture.suppression import suppress_lead
from leadflow.wiring import lead_services
from tests.integration.conftest import Stack
from tests.integration.test_follow_up_api import OPS, call, claims
from tests.integration.test_intake_handler import captured_record
from tests.integration.test_route_handler import add_rep
from tests.integration.test_sla_sweep import tick
from tests.support import CLIENTS

ADA = claims("ada@demo.example", "rep")
MANAGER = claims("manager@demo.example", "manager")
SPRING = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring"}
LINKEDIN = {"utm_source": "linkedin", "utm_medium": "social"}
LEADS: dict[str, dict[str, Any]] = {
    "junk": {"email": "someone@mailinator.com", "inquiry_type": "contact", **SPRING},
    "asker": {"email": "asker@gmail.com", "inquiry_type": "contact", **SPRING},
    "cfo": {"email": "cfo@acme.example", "inquiry_type": "contact", "job_title": "CFO", **LINKEDIN},
    "won_eur": {"email": "vp@alpha.example", "inquiry_type": "demo_request", "job_title": "VP Sales", **SPRING},
    "lost": {"email": "buyer@beta.example", "inquiry_type": "demo_request", **SPRING},
    "rejected": {"email": "buyer@gamma.example", "inquiry_type": "demo_request", **LINKEDIN},
    "won_usd": {
        "email": "ceo@delta.example",
        "inquiry_type": "demo_request",
        "job_title": "CEO",
        "referrer": "https://www.partner.example/tools",
    },
    "late": {"email": "buyer@epsilon.example", "inquiry_type": "demo_request", **LINKEDIN},
}
# What each sales lead's owner records, in order (the API's follow-up bodies).
FOLLOW_UPS: dict[str, list[dict[str, Any]]] = {
    "won_eur": [{"action": a} for a in ("accept", "contacted", "meeting", "opportunity")]
    + [{"action": "won", "amount": "1000.00", "currency": "EUR"}],
    "lost": [{"action": a} for a in ("accept", "contacted")] + [{"action": "lost", "reason": "competitor"}],
    "rejected": [{"action": "reject", "reason": "not_ready"}],
    "won_usd": [{"action": a} for a in ("accept", "contacted", "meeting", "opportunity")]
    + [{"action": "won", "amount": "500", "currency": "USD"}],
}


def deliver(stack: Stack, context: Any, key: str, queue: str, function: str) -> list[dict[str, Any]]:
    """Every message on `queue`, handed to `function` as Lambda would; the records, to deliver again."""
    records = []
    while messages := stack.queue_messages(queue):
        batch = [sqs_record(stack, queue, message) for message in messages]
        assert stack.handler(function)({"Records": batch}, context) == {"batchItemFailures": []}
        sqs = stack.session.client("sqs")
        for message in messages:
            sqs.delete_message(QueueUrl=stack.resources.queue_urls[queue], ReceiptHandle=message["ReceiptHandle"])
        records += batch
    return records


def sqs_record(stack: Stack, queue: str, message: dict[str, Any]) -> dict[str, Any]:
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": stack.resources.queue_arns[queue],
            "awsRegion": "us-east-1"}  # fmt: skip


def funnel(stack: Stack, context: Any, group_by: str = "source", accept: str | None = None) -> tuple[int, Any]:
    today = datetime.now(UTC).date().isoformat()
    query = {"from": today, "to": today, "group_by": group_by}
    if accept is None:
        return call(stack, context, "GET", "/reports/funnel", MANAGER, query=query)
    return csv_call(stack, context, query, accept)


def csv_call(stack: Stack, context: Any, query: dict[str, str], accept: str) -> tuple[int, Any]:
    from tests.integration.test_follow_up_api import SAMPLES
    from tests.support import load_event

    event = json.loads(json.dumps(load_event(SAMPLES["GET"])))
    event.update({"resource": "/reports/funnel", "path": "/reports/funnel", "httpMethod": "GET",
                  "pathParameters": None, "queryStringParameters": query,
                  "multiValueQueryStringParameters": {k: [v] for k, v in query.items()}})  # fmt: skip
    event["headers"] = {**(event.get("headers") or {}), "Accept": accept}
    event["multiValueHeaders"] = {**(event.get("multiValueHeaders") or {}), "Accept": [accept]}
    event["requestContext"].update({"resourcePath": "/reports/funnel", "httpMethod": "GET",
                                    "authorizer": {"claims": MANAGER}})  # fmt: skip
    answer = stack.handler("follow_up")(event, context)
    return answer["statusCode"], answer


def drive(stack: Stack, context: Any) -> dict[str, Any]:
    """Every lead through its stages; what was delivered and asked, to do all of it again."""
    add_rep(stack, "ada")
    intake = [captured_record(stack, fields, n=n) for n, fields in enumerate(LEADS.values())]
    assert stack.handler("intake")({"Records": intake}, context) == {"batchItemFailures": []}
    routing = deliver(stack, context, "routing", "routing", "route")
    lead_ids = {name: json.loads(record["body"])["lead_id"] for name, record in zip(LEADS, intake, strict=True)}
    suppress_lead(lead_ids["asker"], "unsubscribed", lead_services(), datetime.now(UTC))
    for name, steps in FOLLOW_UPS.items():
        for body in steps:
            status, answer = call(stack, context, "POST", "/leads/{lead_id}/follow-up", ADA, body,
                                  lead_id=lead_ids[name])  # fmt: skip
            assert status == 200, answer
    late = stack.store().get_profile(lead_ids["late"])
    assert late is not None
    add_rep(stack, "max")  # free for the late lead once ada lets its deadline pass
    ticks = [a_minute_after(late["sla"]["remind_at"]), a_minute_after(late["sla"]["due_at"])]
    assert tick(stack, context, ticks[0])["reminded"] == 1
    swept = tick(stack, context, ticks[1])
    assert (swept["breached"], swept["reassigned"]) == (1, 1)
    reassigned = stack.store().get_profile(lead_ids["late"])
    assert reassigned is not None
    assert reassigned["owner"] == "max"
    ticks.append(a_minute_after(reassigned["sla"]["due_at"]))
    swept = tick(stack, context, ticks[-1])
    assert (swept["breached"], swept["escalated"]) == (1, 1)
    return {"intake": intake, "routing": routing, "lead_ids": lead_ids, "ticks": ticks}


def a_minute_after(at: str) -> str:
    """A sweep's tick just past `at` (ticks name whole seconds; a timer's moment has milliseconds)."""
    return (datetime.fromisoformat(at) + timedelta(minutes=1)).isoformat()


def again(stack: Stack, context: Any, done: dict[str, Any]) -> None:
    """Every message delivered a second time, every follow-up sent again, every sweep run again."""
    assert stack.handler("intake")({"Records": done["intake"]}, context) == {"batchItemFailures": []}
    assert stack.handler("route")({"Records": done["routing"]}, context) == {"batchItemFailures": []}
    suppress_lead(done["lead_ids"]["asker"], "unsubscribed", lead_services(), datetime.now(UTC))
    for name, steps in FOLLOW_UPS.items():
        for body in steps:
            status, _ = call(stack, context, "POST", "/leads/{lead_id}/follow-up", ADA, body,
                             lead_id=done["lead_ids"][name])  # fmt: skip
            assert status in (200, 404, 409)  # where it asks (200), past it (409), or ada's no more (404)
    for at in done["ticks"]:
        tick(stack, context, at)


# Counted by hand from LEADS and FOLLOW_UPS: per source, each figure's leads.
GOOGLE = {"captured": 4, "junk": 1, "nurture": 1, "unsubscribed": 1, "marketing_qualified": 1, "sales_ready": 2,
          "assigned": 2, "accepted": 2, "contacted": 2, "meeting": 1, "opportunity": 1, "won": 1,
          "lost": 1}  # fmt: skip
LINKEDIN_ROW = {"captured": 3, "nurture": 2, "marketing_qualified": 1, "sales_ready": 2, "assigned": 2,
                "rejected": 1, "accepted": 0, "won": 0}  # fmt: skip
PARTNER = {"captured": 1, "marketing_qualified": 1, "sales_ready": 1, "assigned": 1, "accepted": 1, "contacted": 1,
           "meeting": 1, "opportunity": 1, "won": 1}  # fmt: skip


def test_every_figure_of_the_funnel_is_what_counting_by_hand_gives_and_a_redelivery_changes_none(
    stack: Stack, lambda_context: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    done = drive(stack, lambda_context)
    status, report = funnel(stack, lambda_context)
    assert status == 200, report
    rows = {row["value"]: row for row in report["rows"]}
    assert sorted(rows) == ["google", "linkedin", "partner.example"]
    for value, expected in (("google", GOOGLE), ("linkedin", LINKEDIN_ROW), ("partner.example", PARTNER)):
        got = {**rows[value]["stages"], **rows[value]["outcomes"]}
        assert {name: got[name] for name in expected} == expected, value
    assert rows["google"]["revenue"] == {"EUR": "1000.00"}
    assert rows["partner.example"]["revenue"] == {"USD": "500.00"}
    assert rows["google"]["lost_reasons"] == {"competitor": 1}
    assert rows["linkedin"]["rejected_reasons"] == {"not_ready": 1}
    assert rows["google"]["conversion"]["won_of_closed"] == 0.5
    total = report["total"]
    assert total["stages"]["captured"] == 8
    assert total["sla"] == {"met": 3, "reminded": 1, "breached": 1, "reassigned": 1, "escalated": 1,
                            "met_share": 0.75}  # fmt: skip
    for speed, leads in (("to_owner", 5), ("to_accept", 3), ("to_contact", 3)):
        assert total["speed_working_minutes"][speed]["leads"] == leads, speed

    today = datetime.now(UTC).date().isoformat()
    query = {"from": today, "to": today, "group_by": "owner"}
    owners = {
        row["value"]: row for row in call(stack, lambda_context, "GET", "/reports/funnel", OPS, query=query)[1]["rows"]
    }
    assert owners["ada"]["name"] == "Ada"
    assert (owners["ada"]["stages"]["won"], owners["max"]["stages"]["assigned"]) == (2, 0)  # late counted with ada
    assert owners["(none)"]["stages"]["captured"] == 8  # captured before anyone owned them
    # The late lead's deadline: ada missed it (breached, reassigned); max let the second pass (escalated).
    assert (owners["ada"]["sla"]["breached"], owners["ada"]["sla"]["reassigned"]) == (1, 1)
    assert (owners["max"]["sla"]["breached"], owners["max"]["sla"]["escalated"]) == (0, 1)
    sales = {row["value"] for row in funnel(stack, lambda_context, "owner")[1]["rows"]}
    assert sales == {"ada", "max"}  # their team's reps; "(none)" is nobody's team
    other_manager = claims("leitung@demo.example", "manager")  # the dach team's: neither ada nor max is theirs
    status, theirs = call(stack, lambda_context, "GET", "/reports/funnel", other_manager, query=query)
    assert (status, theirs["rows"], theirs["total"]["stages"]["captured"]) == (200, [], 0)

    status, answer = funnel(stack, lambda_context, accept="text/csv")
    assert status == 200
    assert answer["multiValueHeaders"]["Content-Type"][0].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(answer["body"])))
    assert [(row["source"], row["captured"], row["won"]) for row in table] == [
        ("google", "4", "1"), ("linkedin", "3", "0"), ("partner.example", "1", "1"), ("(all)", "8", "2"),
    ]  # fmt: skip
    assert table[-1]["revenue_EUR"] == "1000.00"

    status, rules = call(stack, lambda_context, "GET", "/reports/rules", MANAGER, query={"from": today, "to": today})
    assert status == 200
    assert (rules["base"]["won"], rules["base"]["lost"], rules["base"]["win_rate"]) == (2, 1, 0.6667)
    by_rule = {rule["rule"]: (rule["won"], rule["lost"]) for rule in rules["rules"]}
    assert by_rule["Decision maker"] == (2, 0)
    assert by_rule["Company email"] == (2, 1)

    before = json.dumps(funnel(stack, lambda_context)[1], sort_keys=True)
    again(stack, lambda_context, done)
    assert json.dumps(funnel(stack, lambda_context)[1], sort_keys=True) == before

    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    flags = ["--local", "--endpoint", moto_endpoint, "--clients-dir", str(tmp_path)]
    verified = CliRunner().invoke(app, ["report", "verify", *flags])
    assert verified.exit_code == 0, verified.output
    assert "Every figure of 8 leads matches the report" in verified.output


def test_a_rep_may_not_read_reports(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")  # on the roster: refused for the role, not for being unknown
    status, answer = call(stack, lambda_context, "GET", "/reports/funnel", ADA)

    assert status == 403
    assert "managers and ops" in answer["message"]


YESTERDAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"from": "2026-10-02", "to": "2026-10-01"}, "from", "is after to"),
        ({"group_by": "colour"}, "group_by", "source"),
        ({"from": "yesterday"}, "from", "date"),
        ({"from": "2024-01-01", "to": YESTERDAY}, "to", "at most 366 days"),
        ({"from": "2024-01-01"}, "from", "at most 366 days"),  # to defaults to today: from is the one to move
    ],
)
def test_a_bad_report_parameter_is_a_400_naming_it(
    stack: Stack, lambda_context: Any, query: dict[str, str], field: str, says: str
) -> None:
    status, answer = call(stack, lambda_context, "GET", "/reports/funnel", MANAGER, query=query)

    assert status == 400
    assert answer["errors"][0]["field"] == field
    assert says in answer["errors"][0]["message"]


def test_a_lead_whose_campaign_finds_its_report_item_full_is_stored_and_counted_under_other(
    stack: Stack, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadflow.aws import leads_table
    from leadflow.report.verify import Recount
    from tests.support import SAMPLE_IDS

    monkeypatch.setattr(leads_table, "MOST_VALUES", 1)  # an item takes one campaign: the second is a flood's
    emails = [f"flood{n}@example.org" for n in range(200)]
    shard = leads_table.counter_shard(SAMPLE_IDS.lead_id(emails[0]))
    same_shard = [e for e in emails if leads_table.counter_shard(SAMPLE_IDS.lead_id(e)) == shard][:2]
    bodies = [{"email": email, "inquiry_type": "contact", "utm_source": "google", "utm_campaign": campaign}
              for email, campaign in zip(same_shard, ("spring", "x" * 500), strict=True)]  # fmt: skip
    for n, body in enumerate(bodies):
        record = captured_record(stack, body, n=n)
        assert stack.handler("intake")({"Records": [record]}, lambda_context) == {"batchItemFailures": []}

    campaigns = {
        row["value"]: row["stages"]["captured"] for row in funnel(stack, lambda_context, "campaign")[1]["rows"]
    }
    sources = {row["value"]: row["stages"]["captured"] for row in funnel(stack, lambda_context, "source")[1]["rows"]}
    assert campaigns == {"spring": 1, "(other)": 1}
    assert sources == {"google": 2}  # the source's item had room: only the campaign is other
    flooded = stack.store().get_profile(SAMPLE_IDS.lead_id(same_shard[1]))
    assert flooded is not None
    assert flooded["report"]["values"]["campaign"] == "(other)"
    tally = Recount.empty()
    for items, _ in report_scan(stack.store()):
        tally.add(items)
    assert tally.differences() == []


def test_a_figure_counted_today_is_dated_by_the_day_its_lead_was_captured(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    record = captured_record(stack, {"email": "early@alpha.example", "inquiry_type": "demo_request"})
    message = json.loads(record["body"])
    captured = datetime.now(UTC) - timedelta(days=3)
    record["body"] = json.dumps({**message, "received_at": captured.isoformat(timespec="milliseconds")})
    assert stack.handler("intake")({"Records": [record]}, lambda_context) == {"batchItemFailures": []}
    deliver(stack, lambda_context, "routing", "routing", "route")  # assigned today, to a lead of three days ago

    def captured_and_assigned(day: str) -> tuple[int, int]:
        query = {"from": day, "to": day}
        total = call(stack, lambda_context, "GET", "/reports/funnel", MANAGER, query=query)[1]["total"]["stages"]
        return total["captured"], total["assigned"]

    assert captured_and_assigned(captured.date().isoformat()) == (1, 1)
    assert captured_and_assigned(datetime.now(UTC).date().isoformat()) == (0, 0)


def test_leads_stored_before_the_report_counted_are_counted_by_the_backfill_as_if_all_along(
    stack: Stack, lambda_context: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    drive(stack, lambda_context)
    by_source = funnel(stack, lambda_context)[1]
    dynamodb, table = stack.session.client("dynamodb"), stack.definition.table("leads").name
    for items, _ in report_scan(stack.store()):  # as the stack was before it counted: no record, no report item
        for item in items:
            key = {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}}
            if item["sk"] == "PROFILE":
                dynamodb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE report")
            else:
                dynamodb.delete_item(TableName=table, Key=key)
    assert funnel(stack, lambda_context)[1]["total"]["stages"]["captured"] == 0

    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    flags = ["--local", "--endpoint", moto_endpoint, "--clients-dir", str(tmp_path)]
    backfilled = CliRunner().invoke(app, ["report", "backfill", *flags])
    again_run = CliRunner().invoke(app, ["report", "backfill", *flags])

    assert backfilled.exit_code == 0, backfilled.output
    assert "Counted 8 leads" in backfilled.output
    assert "Counted 0 leads" in again_run.output
    assert funnel(stack, lambda_context)[1] == by_source  # by source, every figure as counted all along
    verified = CliRunner().invoke(app, ["report", "verify", *flags])
    assert verified.exit_code == 0, verified.output
    assert "stored before the report counted" not in verified.output
