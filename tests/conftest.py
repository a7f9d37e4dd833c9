"""Fixtures every tier shares."""

from __future__ import annotations

import pytest

from leadflow.config import ClientConfig, load_client_config
from tests.support import CLIENTS


@pytest.fixture(scope="session")
def demo_config() -> ClientConfig:
    return load_client_config(CLIENTS / "demo.toml")
