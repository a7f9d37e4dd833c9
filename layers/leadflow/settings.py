"""A function's settings, read once per cold start from its environment and client file."""

from __future__ import annotations

import os
from functools import cache

from leadflow.config import ClientConfig, load_client_config


@cache
def client_config() -> ClientConfig:
    """The client file named by LEADFLOW_CLIENT_FILE, checked by the same model as synth."""
    return load_client_config(required_env("LEADFLOW_CLIENT_FILE"))


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set: the stack definition sets it for every function")
    return value
