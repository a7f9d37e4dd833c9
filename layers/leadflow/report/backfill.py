"""`leadflow report backfill`: count the leads stored before the report counted, from their own history.

A lead stored before this stack counted report figures has no record (`report`) on its
profile and is in no figure. Backfilling one counts it as if it had been counted all along:
its capture, every stage its timeline says it reached, what its profile holds (marketing-
qualified, unsubscribed, its speeds, why it was rejected or lost, its revenue, the rules that
fired), all on its capture day, and writes the record with the figures in one transaction at
the version read, so a lead that changes meanwhile is read again. Once a lead has a record,
the backfill passes it by: running it twice counts nothing twice.

What the history cannot say is counted as well as it can: every figure of a backfilled lead
is counted with its current owner (a deadline a former owner missed included).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from leadflow.aws.leads_table import LeadsTable
from leadflow.lead.change import MAX_ATTEMPTS, Conflict, LeadChange, StoredLead
from leadflow.report.figures import new_figures


def backfill_change(stored: StoredLead, timeline: Sequence[dict[str, Any]]) -> LeadChange | None:
    """The change that counts a lead stored before the report counted; None when it is counted already."""
    if "report" in stored.profile:
        return None
    profile = copy.deepcopy(stored.profile)
    change = LeadChange(profile)
    history = [entry for entry in timeline if entry.get("type") != "inquiry"]
    change.figures = new_figures(None, profile, history)
    return change


def backfill_lead(lead_id: str, table: LeadsTable) -> bool:
    """Count one lead from its history; False when there is nothing to count (counted already, or gone)."""
    for _ in range(MAX_ATTEMPTS):
        stored, lead = table.read(lead_id), table.get_lead(lead_id)
        if stored is None or lead is None:
            return False
        change = backfill_change(stored, lead.timeline)  # type: ignore[arg-type]
        if change is None:
            return False
        try:
            table.write(change, stored, list(stored.outbox))  # what it still has to publish stays
        except Conflict:
            continue  # it changed since it was read: read it again
        return True
    raise Conflict(lead_id)
