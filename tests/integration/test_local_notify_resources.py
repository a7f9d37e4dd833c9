"""The local stack's resources for owners' notices: the bus's rule to the notify queue, the SES sender, the API URL."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from botocore.exceptions import ClientError
from jsonschema import Draft202012Validator, FormatChecker

from leadflow.definition import ResourceRef
from leadflow.local.resources import DEFAULT_LOCAL_API_URL, create_resources
from tests.integration.conftest import Stack
from tests.support import EVENTS, load_event, sent_emails


def put_on_bus(stack: Stack, detail_type: str, detail: dict[str, Any], source: str = "leadflow.demo") -> None:
    entry = {
        "EventBusName": stack.resources.bus_names["events"],
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
    }
    answer = stack.session.client("events").put_events(Entries=[entry])
    assert answer["FailedEntryCount"] == 0


def notify_queue(stack: Stack) -> list[dict[str, Any]]:
    """The notify queue's messages, each body an EventBridge event (taken off the queue)."""
    sqs = stack.session.client("sqs")
    url = stack.resources.queue_urls["notify"]
    taken: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        taken += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return taken


def sample_detail() -> dict[str, Any]:
    """The detail of the first LeadAssigned event in events/notify-sqs-batch.json."""
    return dict(json.loads(load_event("notify-sqs-batch.json")["Records"][0]["body"])["detail"])


def test_a_lead_assigned_event_on_the_bus_lands_on_the_notify_queue_whole(stack: Stack) -> None:
    detail = sample_detail()
    put_on_bus(stack, "LeadAssigned", detail)

    [message] = notify_queue(stack)
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"], event["detail"]) == ("leadflow.demo", "LeadAssigned", detail)
    assert event["id"]  # what the notify function marks a sent notice with
    assert "MessageGroupId" not in message["Attributes"]  # a standard queue


def test_only_the_stacks_own_events_of_the_rules_types_reach_the_notify_queue(stack: Stack) -> None:
    rule = stack.definition.event_rules[0]
    for detail_type in rule.detail_types:
        put_on_bus(stack, detail_type, sample_detail())
    put_on_bus(stack, "LeadQualified", sample_detail())  # not a notice
    put_on_bus(stack, "LeadAssigned", sample_detail(), source="leadflow.acme-eu")  # another client's

    delivered = [json.loads(m["Body"]) for m in notify_queue(stack)]
    assert sorted(e["detail-type"] for e in delivered) == sorted(rule.detail_types)
    assert {e["source"] for e in delivered} == {"leadflow.demo"}


def test_the_notify_sample_is_shaped_like_what_the_bus_delivers_and_its_detail_matches_the_schema(
    stack: Stack,
) -> None:
    put_on_bus(stack, "LeadAssigned", sample_detail())
    [message] = notify_queue(stack)
    delivered = json.loads(message["Body"])
    for record in load_event("notify-sqs-batch.json")["Records"]:
        sample = json.loads(record["body"])
        # moto leaves out the `account` EventBridge puts in every event; the sample has it, as AWS sends it.
        assert set(sample) == set(delivered) | {"account"}
        assert record["eventSourceARN"].endswith(f":{stack.definition.queue('notify').name}")
        schema = json.loads((EVENTS / "schemas" / "LeadAssigned.schema.json").read_text())
        errors = Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(sample["detail"])
        assert [error.message for error in errors] == []


def raw_message(stack: Stack, to: str) -> bytes:
    email = stack.definition.email("email")
    message = EmailMessage(policy=SMTP)
    message["From"] = f"{email.from_name} <{email.from_address}>"
    message["To"] = to
    message["Subject"] = "A lead for you"
    message.set_content("Accept: http://127.0.0.1:3000/r/token")
    message.add_alternative("<p><a href='http://127.0.0.1:3000/r/token'>Accept</a></p>", subtype="html")
    return message.as_bytes()


def test_a_raw_email_from_the_demo_sender_through_its_configuration_set_is_sent(
    stack: Stack, moto_endpoint: str
) -> None:
    email = stack.definition.email("email")
    sesv2 = stack.session.client("sesv2")

    answer = sesv2.send_email(
        FromEmailAddress=f"{email.from_name} <{email.from_address}>",
        Destination={"ToAddresses": ["ada@demo.example"]},
        Content={"Raw": {"Data": raw_message(stack, "ada@demo.example")}},
        ConfigurationSetName=stack.resources.email_configuration_sets["email"],
    )

    assert answer["MessageId"]
    [sent] = sent_emails(moto_endpoint)
    assert (sent["Subject"], sent["To"]) == ("A lead for you", "ada@demo.example")
    identities = sesv2.list_email_identities()["EmailIdentities"]
    assert [(i["IdentityName"], i["VerificationStatus"]) for i in identities] == [(email.from_address, "SUCCESS")]
    configuration_set = sesv2.get_configuration_set(ConfigurationSetName=email.configuration_set)
    assert configuration_set["ConfigurationSetName"] == "leadflow-demo"


def test_a_raw_email_from_an_address_the_stack_has_no_identity_for_is_refused(stack: Stack) -> None:
    with pytest.raises(ClientError) as refused:
        stack.session.client("sesv2").send_email(
            FromEmailAddress="someone@elsewhere.example",
            Destination={"ToAddresses": ["ada@demo.example"]},
            Content={"Raw": {"Data": raw_message(stack, "ada@demo.example")}},
        )
    assert refused.value.response["Error"]["Code"] == "MessageRejected"


def test_notify_is_given_the_local_api_url_its_configuration_set_and_the_link_keys_name(stack: Stack) -> None:
    environment = stack.resources.environment(stack.definition.function("notify").environment)
    assert environment["PUBLIC_API_URL"] == DEFAULT_LOCAL_API_URL == "http://127.0.0.1:3000/"  # a stage URL's slash
    assert environment["EMAIL_CONFIGURATION_SET"] == "leadflow-demo"
    # The key's name, never its value: the functions read the value from Secrets Manager at cold start.
    assert environment["LEADFLOW_LINK_KEY_SECRET"] == stack.definition.secret("link-key").name
    assert stack.resources.secret_values["link-key"] not in environment.values()
    respond = stack.resources.environment(stack.definition.function("respond").environment)
    assert respond["LEADFLOW_LINK_KEY_SECRET"] == environment["LEADFLOW_LINK_KEY_SECRET"]


def test_a_function_reads_the_link_key_from_the_stacks_secret(stack: Stack) -> None:
    from leadflow import settings

    assert settings.link_key() == stack.resources.secret_values["link-key"].encode()
    assert len(settings.link_key()) >= 32  # leadflow.links refuses a shorter key


def test_creating_the_resources_again_finds_them_and_keeps_one_rule_target_and_identity(stack: Stack) -> None:
    again = create_resources(
        stack.definition, stack.session, secret_values=stack.resources.secret_values, api_url="http://127.0.0.1:4000"
    )

    assert again.resolve(ResourceRef("api_url", "api")) == "http://127.0.0.1:4000/"
    assert again.secret_values == stack.resources.secret_values
    events = stack.session.client("events")
    bus = stack.resources.bus_names["events"]
    assert [r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]] == ["leadflow-demo-notify"]
    targets = events.list_targets_by_rule(Rule="leadflow-demo-notify", EventBusName=bus)["Targets"]
    assert [t["Arn"] for t in targets] == [stack.resources.queue_arns["notify"]]
    assert len(stack.session.client("sesv2").list_email_identities()["EmailIdentities"]) == 1
