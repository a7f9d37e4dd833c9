"""moto as the local stack runs it: no list of every model instance ever made, but the emails SES sent."""

from __future__ import annotations

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.ses.models import RawMessage
from moto.sqs.models import Message

from leadflow.local.moto_models import stop_tracking_instances


def test_a_queue_message_or_an_item_made_after_tracking_stopped_is_kept_by_no_list_of_moto() -> None:
    from moto.core.common_models import BaseModel

    stop_tracking_instances()
    patched = BaseModel.__new__
    stop_tracking_instances()  # a second call changes nothing
    assert BaseModel.__new__ is patched

    message = Message("m-1", "a lead's inquiry")
    item = Item(DynamoType({"S": "LEAD#1"}), DynamoType({"S": "PROFILE"}), {"pk": {"S": "LEAD#1"}})

    assert (message.body, item.attrs["pk"]) == ("a lead's inquiry", DynamoType({"S": "LEAD#1"}))  # made as before
    assert message not in Message.instances_tracked  # type: ignore[attr-defined]
    assert item not in Item.instances_tracked  # type: ignore[attr-defined]


def test_the_instances_listed_before_tracking_stopped_are_let_go() -> None:
    Message.instances_tracked.append(object())  # type: ignore[attr-defined]  # as moto listed them before

    stop_tracking_instances()

    assert Message.instances_tracked == []  # type: ignore[attr-defined]


def test_an_email_ses_sent_stays_listed_as_its_backend_keeps_it_anyway() -> None:
    stop_tracking_instances()

    sent = RawMessage("e-1", "team@demo.example", ["ada@demo.example"], "Subject: Hello\r\n\r\nHi\r\n")

    assert sent in RawMessage.instances_tracked  # type: ignore[attr-defined]
