"""A lead whose values find their report items full is written all the same, counted under (other)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from leadflow.aws.leads_table import LeadsTable
from leadflow.lead.change import LeadChange
from leadflow.report.figures import new_figures


class FillingTable:
    """A DynamoDB client whose report items of `refusing` dimensions are full, one dimension more each try."""

    def __init__(self, refusing: list[str]) -> None:
        self.refusing = refusing
        self.tries: list[list[dict[str, Any]]] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.tries.append(TransactItems)
        if len(self.tries) > len(self.refusing):
            return {}
        full = set(self.refusing[: len(self.tries)])
        reasons = []
        for item in TransactItems:
            update = item.get("Update") or {}
            pk = update.get("Key", {}).get("pk", {}).get("S", "")
            checked = "ConditionExpression" in update and pk.removeprefix("REPORT#") in full
            reasons.append({"Code": "ConditionalCheckFailed" if checked else "None"})
        error = {"Code": "TransactionCanceledException", "Message": "cancelled"}
        raise ClientError({"Error": error, "CancellationReasons": reasons}, "TransactWriteItems")


def new_lead() -> LeadChange:
    touch = {"utm_source": "bot-source-1", "utm_campaign": "bot-campaign-1", "inquiry_type": "contact"}
    profile: dict[str, Any] = {"lead_id": "ld_a", "stage": "nurture", "created_at": "2026-11-23T09:00:00.000+00:00",
                               "updated_at": "2026-11-23T09:00:00.000+00:00", "first_touch": touch}  # fmt: skip
    change = LeadChange(profile)  # type: ignore[arg-type]
    change.figures = new_figures(None, change.profile, [])
    return change


def reported_values(items: list[dict[str, Any]], dimension: str) -> set[str]:
    names = set()
    for item in items:
        update = item.get("Update") or {}
        if update.get("Key", {}).get("pk", {}).get("S") == f"REPORT#{dimension}":
            names |= {name.split("|", 1)[1] for name in update["ExpressionAttributeNames"].values() if "|" in name}
    return names


def test_a_second_dimension_found_full_on_the_next_try_is_counted_under_other_too() -> None:
    client = FillingTable(["campaign", "source"])  # the campaign's item is full; by the next try, the source's too
    change = new_lead()

    assert LeadsTable("t", client).write(change, None, []) == 1

    written = client.tries[-1]
    assert len(client.tries) == 3
    assert reported_values(written, "campaign") == {"(other)"}
    assert reported_values(written, "source") == {"(other)"}
    assert reported_values(written, "inquiry_type") == {"contact"}  # its item had room
    assert change.profile["report"]["values"]["source"] == "(other)"
