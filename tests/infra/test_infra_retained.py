"""Destroy loses nothing, and the next deploy finds what destroy kept (infra/retained.py, against moto)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra import retained
from infra.app import DEFAULT_CLIENTS_DIR
from leadflow.definition import StackDefinition

pytestmark = pytest.mark.infra

DEMO_STACK = "Leads-demo"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """An empty moto account, as seen with the caller's credentials."""
    # moto's HASH id strategies (which `leadflow local` sets in its process) would give two pools of one name one id;
    # AWS draws each pool's id.
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY",
        "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        receiving(session, "leadflow")  # done once per account (README), before a client with sequences
        yield session


def receiving(session: boto3.Session, rule_set: str | None) -> None:
    """The account's active receipt rule set: `rule_set`, made if need be, or none active."""
    ses = session.client("ses")
    if rule_set is not None and rule_set not in {s["Name"] for s in ses.list_receipt_rule_sets()["RuleSets"]}:
        ses.create_receipt_rule_set(RuleSetName=rule_set)
    ses.set_active_receipt_rule_set(**({"RuleSetName": rule_set} if rule_set else {}))


def keep_from_a_deleted_stack(definition: StackDefinition, session: boto3.Session) -> dict[str, str]:
    """The table, queues, secrets and user pool (with its groups) a deleted stack leaves behind; the queues' URLs,
    secrets' ARNs and user pools' ids by name."""
    kept = {
        secret.name: session.client("secretsmanager").create_secret(Name=secret.name, SecretString="k" * 64)["ARN"]
        for secret in definition.secrets
    }
    cognito = session.client("cognito-idp")
    for pool in definition.user_pools:
        kept[pool.name] = cognito.create_user_pool(PoolName=pool.name)["UserPool"]["Id"]
        for group in pool.groups:
            cognito.create_group(GroupName=group, UserPoolId=kept[pool.name])
    for table in definition.tables:
        session.client("dynamodb").create_table(
            TableName=table.name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    sqs = session.client("sqs")
    _, queue_names = retained.kept_names(definition)
    for name in queue_names:
        fifo = {"FifoQueue": "true"} if name.endswith(".fifo") else {}  # the notify queue is a standard one
        kept[name] = sqs.create_queue(QueueName=name, Attributes=fifo)["QueueUrl"]
    return kept


def run(command: str, session: boto3.Session, *extra: str) -> int:
    return retained.main([command, "--client", "demo", "--clients-dir", str(DEFAULT_CLIENTS_DIR), *extra], session)


def test_destroy_refuses_while_a_kept_queue_holds_messages_and_names_it(
    aws: boto3.Session, demo_definition: StackDefinition, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = keep_from_a_deleted_stack(demo_definition, aws)
    dead_letters = demo_definition.queue("intake").dead_letter_name
    aws.client("sqs").send_message(
        QueueUrl=urls[dead_letters], MessageBody="{}", MessageGroupId="lead", MessageDeduplicationId="one"
    )

    assert run("before-destroy", aws) == 1
    refused = capsys.readouterr().err
    assert f"{dead_letters}: 1 message(s)" in refused
    assert "make destroy CLIENT=demo FORCE=1" in refused
    assert run("before-destroy", aws, "--force") == 0


def test_destroy_goes_ahead_when_every_kept_queue_is_empty_and_says_what_it_keeps(
    aws: boto3.Session, demo_definition: StackDefinition, capsys: pytest.CaptureFixture[str]
) -> None:
    keep_from_a_deleted_stack(demo_definition, aws)
    assert run("before-destroy", aws) == 0
    said = capsys.readouterr().out
    assert demo_definition.table("leads").name in said
    assert demo_definition.queue("intake").name in said
    assert all(secret.name in said for secret in demo_definition.secrets)
    assert f"the user pool {demo_definition.user_pool('users').name} (its people and groups)" in said


def test_redeploy_after_destroy_imports_what_the_stack_kept_under_its_logical_ids(
    aws: boto3.Session,
    demo_definition: StackDefinition,
    synthesized: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    urls = keep_from_a_deleted_stack(demo_definition, aws)
    template = synthesized.templates[DEMO_STACK]
    monkeypatch.setattr("infra.app.synthesize", lambda *args, **kwargs: {DEMO_STACK: template})
    seen = tmp_path / "cdk-argv.json"
    fake_cdk = f'{sys.executable} -c \'import json, sys; open("{seen}", "w").write(json.dumps(sys.argv[1:]))\''

    assert run("before-deploy", aws, "--cdk", fake_cdk) == 0

    argv = json.loads(seen.read_text())
    assert argv[0] == "import"
    assert argv[-1] == DEMO_STACK
    assert {"client=demo", "stage=prod"} <= set(argv)
    mapping = json.loads(argv[argv.index("--resource-mapping-inline") + 1])
    kept = retained.retained_resources(template)  # every resource with DeletionPolicy Retain
    assert set(mapping) == set(kept)
    assert {resource_type for resource_type, _ in kept.values()} == set(retained.NAME_PROPERTY)
    pool_id = urls[demo_definition.user_pool("users").name]
    for logical_id, (resource_type, name) in kept.items():
        identifier = {
            "AWS::DynamoDB::Table": {"TableName": name},
            "AWS::SQS::Queue": {"QueueUrl": urls.get(name)},
            "AWS::SecretsManager::Secret": {"Id": urls.get(name)},  # imported by its ARN: the same key, the same ids
            # The same pool: its people keep their passwords, MFA and groups.
            "AWS::Cognito::UserPool": {"UserPoolId": pool_id},
            "AWS::Cognito::UserPoolGroup": {"UserPoolId": pool_id, "GroupName": name},
        }[resource_type]
        assert mapping[logical_id] == identifier
    groups = {name for resource_type, name in kept.values() if resource_type == "AWS::Cognito::UserPoolGroup"}
    assert groups == {"rep", "manager", "ops"}


def test_deploy_imports_nothing_when_the_stack_exists_or_nothing_was_kept(
    aws: boto3.Session, demo_definition: StackDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_synth(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("nothing to import: no synth, no cdk import")

    monkeypatch.setattr("infra.app.synthesize", no_synth)
    never = f"{sys.executable} -c 'raise SystemExit(9)'"
    assert run("before-deploy", aws, "--cdk", never) == 0  # a first deploy: nothing kept

    keep_from_a_deleted_stack(demo_definition, aws)
    aws.client("cloudformation").create_stack(
        StackName=DEMO_STACK,
        TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
    )
    assert run("before-deploy", aws, "--cdk", never) == 0  # an update: the stack holds them


def test_deploy_refuses_a_kept_lead_id_key_scheduled_for_deletion_and_says_how_to_restore_it(
    aws: boto3.Session, demo_definition: StackDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_from_a_deleted_stack(demo_definition, aws)
    name = demo_definition.secret("lead-id-key").name
    aws.client("secretsmanager").delete_secret(SecretId=name, RecoveryWindowInDays=7)
    monkeypatch.setattr("infra.app.synthesize", lambda *args, **kwargs: pytest.fail("no import may start"))
    with pytest.raises(SystemExit) as refused:
        run("before-deploy", aws, "--cdk", f"{sys.executable} -c 'raise SystemExit(9)'")
    assert f"aws secretsmanager restore-secret --secret-id {name}" in str(refused.value)


def test_deploy_refuses_when_two_user_pools_bear_the_stacks_pool_name_and_names_both(
    aws: boto3.Session, demo_definition: StackDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = keep_from_a_deleted_stack(demo_definition, aws)
    name = demo_definition.user_pool("users").name
    other = aws.client("cognito-idp").create_user_pool(PoolName=name)["UserPool"]["Id"]
    monkeypatch.setattr("infra.app.synthesize", lambda *args, **kwargs: pytest.fail("no import may start"))
    with pytest.raises(SystemExit) as refused:
        run("before-deploy", aws, "--cdk", f"{sys.executable} -c 'raise SystemExit(9)'")
    assert f"2 user pools are named {name}" in str(refused.value)
    assert kept[name] in str(refused.value)
    assert other in str(refused.value)


def test_deploy_imports_the_kept_user_pool_without_a_group_someone_deleted(
    aws: boto3.Session, demo_definition: StackDefinition, synthesized: Any
) -> None:
    kept = keep_from_a_deleted_stack(demo_definition, aws)
    pool_id = kept[demo_definition.user_pool("users").name]
    aws.client("cognito-idp").delete_group(GroupName="ops", UserPoolId=pool_id)

    mapping = retained.import_mapping(synthesized.templates[DEMO_STACK], retained.find_kept(demo_definition, aws))

    imported = [identifier for identifier in mapping.values() if identifier.get("UserPoolId") == pool_id]
    assert sorted(identifier.get("GroupName", "(the pool)") for identifier in imported) == [
        "(the pool)",
        "manager",
        "rep",
    ]  # the deploy after the import makes the ops group again


@pytest.mark.parametrize(("active", "said"), [(None, "none is active"), ("theirs", "the active one is 'theirs'")])
def test_deploy_refuses_while_the_clients_receipt_rule_set_is_not_the_active_one_and_says_what_to_run(
    aws: boto3.Session, active: str | None, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    receiving(aws, active)
    never = f"{sys.executable} -c 'raise SystemExit(9)'"
    assert run("before-deploy", aws, "--cdk", never) == 1
    error = capsys.readouterr().err
    assert f"adds its rule for unsubscribe-demo@unsubscribe.demo.example to 'leadflow', but {said}" in error
    assert "aws ses set-active-receipt-rule-set --rule-set-name leadflow" in error
