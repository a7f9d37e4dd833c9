"""The one way data-access classes reach AWS: a boto3 client handed in, or made on first use.

Tests and the local runtime hand in clients (moto-backed); in Lambda the client is created
lazily, so nothing reaches AWS, or even imports boto3, at import time.

A client leadflow makes does not validate its requests' parameters against the API's model
before sending them (`new_client`): every request is built by leadflow's code, never typed by a
person, and AWS validates each one itself, answering 400 with the field. Validating twice cost
about a fifth of a nurture step's own processor time (botocore walks every attribute of every
item; leadflow.bench_nurture).
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
                    self._client = new_client(self.service)
        return self._client


def new_client(service: str) -> Any:
    """A boto3 client of the default session, as leadflow makes one (see the module doc)."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(parameter_validation=False))
