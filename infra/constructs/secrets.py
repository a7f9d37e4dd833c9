"""Secrets Manager: each SecretSpec becomes a secret the stack generates once and never replaces.

A secret is kept when the stack is deleted (like the table it keys the ids of), and
`infra/retained.py` imports it into the stack again on the next deploy, so its value never
changes. Functions get the value through a CloudFormation dynamic reference resolved at
deploy time: nothing to fetch at cold start, no Secrets Manager permission on any role.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from leadflow.definition import SecretSpec


class Secrets(Construct):
    """The stack's secrets, by their key in the definition."""

    def __init__(self, scope: Construct, construct_id: str, *, specs: tuple[SecretSpec, ...]) -> None:
        super().__init__(scope, construct_id)
        self._secrets = {spec.key: self._declare_secret(spec) for spec in specs}

    def arn(self, key: str) -> str:
        return self._secrets[key].secret_arn

    def value(self, key: str) -> str:
        """The secret's value as a dynamic reference ({{resolve:secretsmanager:...}}), for an environment."""
        return self._secrets[key].secret_value.unsafe_unwrap()

    def _declare_secret(self, spec: SecretSpec) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            spec.key,
            secret_name=spec.name,
            description=spec.description,
            # Never change these settings: CloudFormation generates a new value when they change, and a new
            # lead id key gives every returning person a new lead (a test pins them). 64 characters: at least
            # the 32 bytes a key needs (leadflow.lead.ids, leadflow.links).
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SMG4",
                reason=spec.not_rotated_because,
            )
        )
        return secret
