"""Infra tests: the CDK app synthesized once per session, every client, into a temp directory."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# infra/ and layers/leadflow are imported from the repository (`python -m pytest` adds only the cwd).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aws_cdk.assertions import Template

from infra.app import ALL_CLIENTS, client_names, synthesize
from leadflow.config import ClientConfig
from leadflow.definition import StackDefinition, build_definition

DEMO_STACK = "Leads-demo"


@dataclass(frozen=True)
class Synthesized:
    assembly_dir: Path
    templates: dict[str, dict]  # CloudFormation templates by stack name

    def template_file(self, stack_name: str) -> Path:
        return self.assembly_dir / f"{stack_name}.template.json"


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    assembly_dir = tmp_path_factory.mktemp("cdk.out")
    return Synthesized(assembly_dir, synthesize(client_names(ALL_CLIENTS), assembly_dir))


@pytest.fixture(scope="session")
def demo_template(synthesized: Synthesized) -> Template:
    return Template.from_json(synthesized.templates[DEMO_STACK])


@pytest.fixture(scope="session")
def demo_definition(demo_config: ClientConfig) -> StackDefinition:  # demo_config: tests/conftest.py
    return build_definition(demo_config)
