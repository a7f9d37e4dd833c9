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
