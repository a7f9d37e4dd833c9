"""The one way data-access classes reach AWS: a boto3 client handed in, or made on first use.

Tests and the local runtime hand in clients (moto-backed); in Lambda the client is created
lazily, so nothing reaches AWS, or even imports boto3, at import time.

A client leadflow makes in a Lambda (or in a worker of the local stack, which runs as one)
does not validate its requests' parameters against the API's model before sending them
(`new_client`): every request is built by leadflow's code, never typed by a person, and AWS
validates each one itself, answering 400 with the field. Validating twice cost about a fifth of
a nurture step's own processor time (botocore walks every attribute of every item;
leadflow.bench_nurture). Anywhere else (the tests, the CLI) a client validates: a request a
mistake built is refused before it is sent, where finding the mistake is cheap.
"""

from __future__ import annotations

import os
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

    in_a_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    return boto3.client(service, config=Config(parameter_validation=not in_a_lambda))
