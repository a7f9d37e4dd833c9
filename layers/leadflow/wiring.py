"""What a function works with, made once per cold start from its environment: the stores, the bus, the queues.

Every function that changes leads reads the same variables (LEADS_TABLE, EVENT_BUS_NAME, and
ROUTING_QUEUE_URL where it hands leads to routing, NURTURE_QUEUE_URL where an inquiry may ask for an
acknowledgement; leadflow.definition sets them), so they are
built here once instead of in each handler. A retried DynamoDB call (a transaction conflict,
throttling) is counted as the WriteRetried metric, then retried.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from leadflow.aws.event_bus import EventBus
from leadflow.aws.leads_table import LeadsTable
from leadflow.aws.queues import FifoQueue
from leadflow.aws.roster import RosterTable
from leadflow.lead.change import LeadServices, MessageSender
from leadflow.nurture.sequences import nurture_keeper
from leadflow.observability import MetricUnit, metrics
from leadflow.report.figures import team_minutes
from leadflow.settings import UNSUBSCRIBE_MAILBOX_VARIABLE, client_config, link_key, required_env

if TYPE_CHECKING:
    from leadflow.aws.mailer import Mailer
    from leadflow.nurture.send import SignedLinks


_counting = threading.Lock()  # a sweep's batches retry from threads of their own; Powertools' metrics take no lock


def count_retry(error: Exception) -> None:
    """DynamoDB asked to try again: counted, then retried (leadflow.aws.retry)."""
    with _counting:
        metrics.add_metric(name="WriteRetried", unit=MetricUnit.Count, value=1)


@cache
def leads_table() -> LeadsTable:
    return LeadsTable(required_env("LEADS_TABLE"), on_retry=count_retry)


@cache
def roster() -> RosterTable:
    return RosterTable(required_env("LEADS_TABLE"), leads_table().client, on_retry=count_retry)


@cache
def lead_services() -> LeadServices:
    """The applier's ports: the leads table, the stack's bus, and the routing queue when the function has it."""
    queues: dict[str, MessageSender] = {}
    if os.environ.get("ROUTING_QUEUE_URL"):
        queues["routing"] = FifoQueue(required_env("ROUTING_QUEUE_URL"))
    if os.environ.get("NURTURE_QUEUE_URL"):
        queues["nurture"] = FifoQueue(required_env("NURTURE_QUEUE_URL"))
    config = client_config()
    bus = EventBus(required_env("EVENT_BUS_NAME"))
    return LeadServices(
        config.name, leads_table(), bus, queues, keep=nurture_keeper(config), working_minutes=team_minutes(config)
    )


@cache
def mailer() -> Mailer:
    """The stack's SES sender, through its configuration set (EMAIL_CONFIGURATION_SET): owners' notices, nurture."""
    from leadflow.aws.mailer import Mailer

    notify = client_config().notify
    return Mailer(notify.from_address, notify.from_name, required_env("EMAIL_CONFIGURATION_SET"))


def signed_links(now: datetime) -> SignedLinks:
    """The links of emails to leads sent at `now`: signed with the link key, on the API's public URL."""
    from leadflow.links import LinkSigner
    from leadflow.nurture.send import SignedLinks

    mailbox = os.environ.get(UNSUBSCRIBE_MAILBOX_VARIABLE) or None
    return SignedLinks(LinkSigner(link_key()), required_env("PUBLIC_API_URL"), mailbox, now)


def forget_cached() -> None:
    for cached in (leads_table, roster, lead_services, mailer):
        cached.cache_clear()
