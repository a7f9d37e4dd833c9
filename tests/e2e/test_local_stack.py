"""What the issue asks a newcomer to see: posts over HTTP to `make run`'s stack, leads in DynamoDB."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def unique_email(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def test_json_post_gets_202_and_the_lead_is_stored(local_stack: RunningStack) -> None:
    email = unique_email("ada")
    answer = requests.post(f"{local_stack.api}/leads", json={"email": email, "first_name": "Ada"}, timeout=10)
    assert answer.status_code == 202
    lead_id = answer.json()["lead_id"]
    lead = local_stack.lead(email)
    assert lead["lead_id"] == lead_id
    assert lead["first_name"] == "Ada"


def test_form_post_gets_303_to_thank_you_and_the_lead_is_stored(local_stack: RunningStack) -> None:
    email = unique_email("grace")
    answer = requests.post(
        f"{local_stack.api}/leads", data={"email": email, "utm_source": "google"}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{local_stack.api}/thank-you"
    assert local_stack.lead(email)["first_touch"]["utm_source"] == "google"


def test_same_email_three_times_is_one_lead_with_three_inquiries(local_stack: RunningStack) -> None:
    email = unique_email("three")
    lead_ids = {
        requests.post(f"{local_stack.api}/leads", json={"email": email, "message": f"try {n}"}, timeout=10).json()[
            "lead_id"
        ]
        for n in range(3)
    }
    assert len(lead_ids) == 1
    lead = local_stack.settled_lead(email, inquiries=3)
    assert lead["inquiry_count"] == 3
    assert len([e for e in lead["timeline"] if e["type"] == "inquiry"]) == 3


def test_same_idempotency_key_twice_is_one_inquiry(local_stack: RunningStack) -> None:
    email, key = unique_email("retry"), f"key-{uuid.uuid4()}"
    answers = [
        requests.post(f"{local_stack.api}/leads", json={"email": email}, headers={"Idempotency-Key": key}, timeout=10)
        for _ in range(2)
    ]
    assert answers[0].json() == answers[1].json()
    # a third, keyless post is the marker that intake has caught up with everything before it
    requests.post(f"{local_stack.api}/leads", json={"email": email}, timeout=10)
    lead = local_stack.settled_lead(email, inquiries=2)
    assert lead["inquiry_count"] == 2


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"json": {"email": "not-an-email"}}, 422, "email"),
        ({"json": {"first_name": "NoEmail"}}, 422, "email"),
        ({"data": "x" * 100_000, "headers": {"Content-Type": "application/json"}}, 413, "body"),
        ({"data": "email=a@b.co", "headers": {"Content-Type": "text/plain"}}, 415, "Content-Type"),
    ],
    ids=["invalid-email", "missing-email", "100kb-body", "text-plain"],
)
def test_bad_request_gets_4xx_naming_the_problem(
    local_stack: RunningStack, kwargs: dict, status: int, field: str
) -> None:
    answer = requests.post(f"{local_stack.api}/leads", timeout=10, **kwargs)
    assert answer.status_code == status
    assert field in [e["field"] for e in answer.json()["errors"]]


def test_browser_post_from_a_foreign_origin_is_refused(local_stack: RunningStack) -> None:
    answer = requests.post(
        f"{local_stack.api}/leads",
        json={"email": unique_email("x")},
        headers={"Origin": "https://evil.example"},
        timeout=10,
    )
    assert answer.status_code == 403


def test_leads_list_shows_the_newest_leads(local_stack: RunningStack) -> None:
    email = unique_email("listed")
    requests.post(f"{local_stack.api}/leads", json={"email": email}, timeout=10)
    local_stack.lead(email)
    listed = local_stack.cli("leads", "list", "--json")
    assert email in listed.stdout


def test_chunked_request_body_is_read_as_api_gateway_reads_it(local_stack: RunningStack) -> None:
    email = unique_email("chunked")
    body = iter([b'{"email": "', email.encode(), b'"}'])  # a generator makes requests send it chunked
    answer = requests.post(
        f"{local_stack.api}/leads", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert answer.status_code == 202
    assert local_stack.lead(email)["email"] == email
