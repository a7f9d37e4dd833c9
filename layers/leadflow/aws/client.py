"""The one way data-access classes reach AWS: a boto3 client handed in, or made on first use.

Tests and the local runtime hand in clients (moto-backed); in Lambda the client is created
lazily, so nothing reaches AWS, or even imports boto3, at import time.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

_creating = threading.Lock()  # boto3's default session does not make clients safely from two threads at once


class LazyClient:
    service: ClassVar[str]

    def __init__(self, client: Any = None):
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            with _creating:
                if self._client is None:
                    import boto3

                    self._client = boto3.client(self.service)
        return self._client
