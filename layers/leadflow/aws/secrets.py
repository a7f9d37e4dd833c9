"""Data access for Secrets Manager: the one place that reads a stack secret's value.

The keys that sign what leaves the stack (links in emails, webhooks) are read here, once per
cold start, and never put in a function's environment, which anyone allowed to describe the
function could read.
"""

from __future__ import annotations

from typing import Any

from leadflow.aws.client import LazyClient
from leadflow.aws.retry import with_backoff


class SecretReader(LazyClient):
    service = "secretsmanager"

    def __init__(self, client: Any = None):
        super().__init__(client)

    def value(self, name: str) -> str:
        answer = with_backoff(lambda: self.client.get_secret_value(SecretId=name))
        return str(answer["SecretString"])
