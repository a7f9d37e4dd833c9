"""Paths and loaders that tests of every tier share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leadflow.lead.ids import LeadIds

ROOT = Path(__file__).resolve().parents[1]
# The demo stack's lead id key in tests: the ids in events/ samples are derived with it.
SAMPLE_LEAD_ID_KEY = "sample-lead-id-key-for-tests-and-events-only"
SAMPLE_IDS = LeadIds("demo", SAMPLE_LEAD_ID_KEY.encode())
CLIENTS = ROOT / "clients"
EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def sent_emails(moto_endpoint: str) -> list[Any]:
    """What SES (moto) was asked to send, as parsed MIME messages, oldest first."""
    from email import message_from_string, policy

    import requests

    state = requests.get(f"{moto_endpoint}/moto-api/data.json", timeout=30).json()
    raw = state.get("ses", {}).get("RawMessage", [])
    return [message_from_string(message["raw_data"], policy=policy.default) for message in raw]
