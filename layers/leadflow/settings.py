"""A function's settings, read once per cold start from its environment and client config.

LEADFLOW_CLIENT_CONFIG names the client's checked config (JSON written at synth by
`leadflow.config.config_snapshot`). Functions that can afford it validate it again with
the same pydantic model; capture, where every millisecond of cold start is a visitor
waiting, reads its plain `CaptureRules` view of the same file.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

LEAD_ID_KEY_VARIABLE = "LEADFLOW_LEAD_ID_KEY"
# The names of the secrets whose values sign links and webhooks (read at cold start, never set as values).
LINK_KEY_SECRET_VARIABLE = "LEADFLOW_LINK_KEY_SECRET"  # noqa: S105 - a variable's name, no secret
# Where the mailto of a nurture email's List-Unsubscribe goes (leadflow.definition.unsubscribe_mailbox); unset: none.
UNSUBSCRIBE_MAILBOX_VARIABLE = "LEADFLOW_UNSUBSCRIBE_MAILBOX"
WEBHOOK_KEY_SECRET_VARIABLE = "LEADFLOW_WEBHOOK_KEY_SECRET"  # noqa: S105 - a variable's name, no secret

if TYPE_CHECKING:
    from leadflow.capture.request import CaptureRules
    from leadflow.config import ClientConfig
    from leadflow.lead.ids import LeadIds


@cache
def client_snapshot() -> dict[str, Any]:
    path = Path(required_env("LEADFLOW_CLIENT_CONFIG"))
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    except (OSError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"cannot read the client config {path}: {exc}; redeploy the stack to rebuild it") from exc


@cache
def client_config() -> ClientConfig:
    """The whole client config, validated by the model synth used."""
    from leadflow.config import ClientConfig

    return ClientConfig.model_validate(client_snapshot())


@cache
def capture_rules() -> CaptureRules:
    from leadflow.capture.request import CaptureRules

    return CaptureRules(**client_snapshot()["capture"])


@cache
def lead_ids() -> LeadIds:
    """How this stack names leads: keyed with its lead id key (LEADFLOW_LEAD_ID_KEY, set from its secret)."""
    from leadflow.lead.ids import LeadIds

    return LeadIds(client_name(), required_env(LEAD_ID_KEY_VARIABLE).encode())


@cache
def link_key() -> bytes:
    """What signs the links in emails: the stack's link key, read from Secrets Manager once per cold start."""
    from leadflow.aws.secrets import SecretReader

    return SecretReader().value(required_env(LINK_KEY_SECRET_VARIABLE)).encode()


@cache
def webhook_key() -> bytes:
    """What signs the webhooks: the stack's webhook key, read from Secrets Manager once per cold start."""
    from leadflow.aws.secrets import SecretReader

    return SecretReader().value(required_env(WEBHOOK_KEY_SECRET_VARIABLE)).encode()


def forget_cached() -> None:
    """For tests that change the environment between invocations in one process."""
    from leadflow import wiring

    wiring.forget_cached()
    for cached in (client_snapshot, client_config, capture_rules, lead_ids, link_key, webhook_key):
        cached.cache_clear()


def client_name() -> str:
    return str(client_snapshot()["name"])


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set: the stack definition sets it for every function")
    return value
