"""What a client stack keeps when it is deleted, and getting it back on the next deploy.

Deleting a stack (`make destroy`) keeps the leads table, every queue, every secret (the lead id
key, the link key) and the user pool with its groups (their removal policy is RETAIN): they hold
leads, inquiries, hand-offs and notices stored nowhere else, the key the lead ids are derived with,
the key the links in sent emails are signed with, and the client's people with who may do what.
Because their names are fixed, the next `cdk deploy` of that stack would fail on them ("already
exists"), or, for the user pool (Cognito allows two pools of one name), make a second, empty one, so
the commands below import them. (The reports bucket is kept too, but CloudFormation names it: the
next deploy makes a new one beside it, and nothing is imported.)

    python infra/retained.py before-destroy --client acme [--stage staging] [--force]
        Refuses (exit 1) while any of the stack's queues holds messages: they would wait in
        queues nothing reads until the next deploy, and SQS drops them 14 days after they were
        sent. --force destroys anyway; nothing is deleted either way.

    python infra/retained.py before-deploy --client acme [--stage staging] --cdk "npx cdk"
        When the stack does not exist but resources it kept do, imports them into a new stack
        with CloudFormation resource import (`cdk import --resource-mapping-inline`); the `cdk
        deploy` that follows adds everything else. Does nothing when the stack exists or
        nothing was kept (a first deploy). First, for a stack that receives unsubscribe emails,
        refuses (exit 1) unless its receipt rule set is the account's active one: SES runs the
        rules of that set alone, so a rule elsewhere would take no email, and nothing would say so.

`make deploy` and `make destroy` run these with your AWS credentials. Synthesizing never calls
AWS: this script finds the logical ids by synthesizing locally, then asks AWS what exists.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if str(Path(__file__).resolve().parent) in sys.path:  # infra/constructs/ must not pass for `constructs`
    sys.path.remove(str(Path(__file__).resolve().parent))

from infra.template_surface import Template, resources_of_type
from leadflow.config import ClientConfig, ConfigError, load_client_config
from leadflow.definition import DEFAULT_STAGE, InvalidStageError, StackDefinition, build_definition

REPO_ROOT = Path(__file__).resolve().parents[1]
# The kept resource types, and the template property naming each.
TABLE, QUEUE, SECRET = "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SecretsManager::Secret"
USER_POOL, USER_POOL_GROUP = "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolGroup"
NAME_PROPERTY = {
    TABLE: "TableName",
    QUEUE: "QueueName",
    SECRET: "Name",
    USER_POOL: "UserPoolName",
    USER_POOL_GROUP: "GroupName",  # unique within its pool
}
MESSAGE_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass(frozen=True)
class Kept:
    """The stack's kept resources that exist in the account: tables, queues, secrets and user pools by name."""

    tables: frozenset[str]
    queue_urls: dict[str, str]
    secret_arns: dict[str, str] = field(default_factory=dict)  # imported as they are: ids and links stay valid
    user_pool_ids: dict[str, str] = field(default_factory=dict)  # its people keep their passwords and MFA
    user_pool_groups: frozenset[tuple[str, str]] = frozenset()  # (pool name, group name): who is in it stays

    def __bool__(self) -> bool:
        return bool(self.tables or self.queue_urls or self.secret_arns or self.user_pool_ids)


def kept_names(definition: StackDefinition) -> tuple[list[str], list[str]]:
    """The names of the tables and queues the stack keeps when it is deleted."""
    tables = [table.name for table in definition.tables]
    queues = [name for queue in definition.queues for name in (queue.name, queue.dead_letter_name)]
    return tables, queues


def retained_resources(template: Template) -> dict[str, tuple[str, str]]:
    """Each resource the template keeps on stack deletion: logical id -> (type, physical name)."""
    return {
        logical_id: (resource["Type"], resource["Properties"][NAME_PROPERTY[resource["Type"]]])
        for resource_type in NAME_PROPERTY
        for logical_id, resource in resources_of_type(template, resource_type).items()
        if resource.get("DeletionPolicy") == "Retain"
    }


def import_mapping(template: Template, kept: Kept) -> dict[str, dict[str, str]]:
    """`cdk import --resource-mapping` for what exists: logical id -> the identifier CloudFormation imports by."""
    mapping: dict[str, dict[str, str]] = {}
    resources = template["Resources"]
    for logical_id, (resource_type, name) in retained_resources(template).items():
        if resource_type == TABLE and name in kept.tables:
            mapping[logical_id] = {"TableName": name}
        elif resource_type == QUEUE and name in kept.queue_urls:
            mapping[logical_id] = {"QueueUrl": kept.queue_urls[name]}
        elif resource_type == SECRET and name in kept.secret_arns:
            mapping[logical_id] = {"Id": kept.secret_arns[name]}
        elif resource_type == USER_POOL and name in kept.user_pool_ids:
            mapping[logical_id] = {"UserPoolId": kept.user_pool_ids[name]}
        elif resource_type == USER_POOL_GROUP:
            pool = resources[resources[logical_id]["Properties"]["UserPoolId"]["Ref"]]
            pool_name = pool["Properties"][NAME_PROPERTY[USER_POOL]]
            if (pool_name, name) in kept.user_pool_groups:
                mapping[logical_id] = {"UserPoolId": kept.user_pool_ids[pool_name], "GroupName": name}
    return mapping


# --- what exists in the account (with the caller's credentials) ---------------------------


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def find_kept(definition: StackDefinition, session: Any) -> Kept:
    from botocore.exceptions import ClientError

    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    tables, queues = kept_names(definition)
    found_tables = set()
    for name in tables:
        try:
            dynamodb.describe_table(TableName=name)
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
            continue
        found_tables.add(name)
    queue_urls = {}
    for name in queues:
        try:
            queue_urls[name] = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as exc:
            if "NonExistentQueue" not in _error_code(exc) and "QueueDoesNotExist" not in _error_code(exc):
                raise
    secrets, secret_arns = session.client("secretsmanager"), {}
    for secret in definition.secrets:
        try:
            described = secrets.describe_secret(SecretId=secret.name)
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
            continue
        if described.get("DeletedDate"):
            raise SystemExit(
                f"The kept secret {secret.name} is scheduled for deletion, so it cannot be imported, and a new "
                f"one would not do (it {secret.description[0].lower()}{secret.description[1:]}). Restore it first: "
                f"aws secretsmanager restore-secret --secret-id {secret.name}"
            )
        secret_arns[secret.name] = described["ARN"]
    user_pool_ids, user_pool_groups = _find_kept_user_pools(definition, session)
    return Kept(frozenset(found_tables), queue_urls, secret_arns, user_pool_ids, user_pool_groups)


def _find_kept_user_pools(
    definition: StackDefinition, session: Any
) -> tuple[dict[str, str], frozenset[tuple[str, str]]]:
    """The stack's kept user pools (name -> id) and their groups that exist, as (pool name, group name)."""
    if not definition.user_pools:
        return {}, frozenset()
    from botocore.exceptions import ClientError

    cognito = session.client("cognito-idp")
    ids_by_name: dict[str, list[str]] = {}
    for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            ids_by_name.setdefault(pool["Name"], []).append(pool["Id"])
    pool_ids, groups = {}, set()
    for spec in definition.user_pools:
        found = sorted(ids_by_name.get(spec.name, []))
        if len(found) > 1:
            raise SystemExit(
                f"{len(found)} user pools are named {spec.name} ({', '.join(found)}), and only one holds the client's "
                "people: look at their users (aws cognito-idp list-users --user-pool-id ID), delete the other "
                "one(s), then deploy again."
            )
        if not found:
            continue
        pool_ids[spec.name] = found[0]
        for group in spec.groups:
            try:
                cognito.get_group(GroupName=group, UserPoolId=found[0])
            except ClientError as exc:
                if _error_code(exc) != "ResourceNotFoundException":
                    raise
                continue
            groups.add((spec.name, group))
    return pool_ids, frozenset(groups)


def stack_exists(stack_name: str, session: Any) -> bool:
    from botocore.exceptions import ClientError

    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    return any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks)


def messages_waiting(kept: Kept, session: Any) -> dict[str, int]:
    """Messages (visible, in flight or delayed) in each kept queue that holds any."""
    sqs = session.client("sqs")
    waiting = {}
    for name, url in sorted(kept.queue_urls.items()):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(MESSAGE_COUNTS))["Attributes"]
        count = sum(int(attributes.get(attribute, 0)) for attribute in MESSAGE_COUNTS)
        if count:
            waiting[name] = count
    return waiting


# --- the two commands ----------------------------------------------------------------------


def before_destroy(definition: StackDefinition, session: Any, *, force: bool, client_file: Path) -> int:
    waiting = messages_waiting(find_kept(definition, session), session)
    tables, queues = kept_names(definition)
    pools = "".join(f", the user pool {pool.name} (its people and groups)" for pool in definition.user_pools)
    kept_line = (
        f"Deleting {definition.stack_name} keeps the table {', '.join(tables)}, the queues {', '.join(queues)}"
        f"{pools} and the secrets {', '.join(secret.name for secret in definition.secrets)}."
    )
    if not waiting:
        print(f"{kept_line} The queues are empty.")
        return 0
    listing = "\n".join(f"  {name}: {count} message(s)" for name, count in waiting.items())
    print(f"{definition.stack_name}'s queues hold messages:\n{listing}\n{kept_line}", file=sys.stderr)
    if force:
        print("Destroying anyway (--force): they wait in the kept queues until the next deploy.", file=sys.stderr)
        return 0
    stage = "" if definition.stage == DEFAULT_STAGE else f" STAGE={definition.stage}"
    print(
        "Nothing will read them until the stack is deployed again, and SQS drops a message 14 days after it "
        "was sent. Let intake drain its queue, put dead letters back with `leadflow redrive`, then destroy; or "
        f"destroy anyway with `make destroy CLIENT={client_file.stem}{stage} FORCE=1`.",
        file=sys.stderr,
    )
    return 1


def receipt_rule_set_problem(definition: StackDefinition, session: Any) -> str | None:
    """Why SES would not run the stack's receipt rule (its rule set is not the active one), or None."""
    if not definition.inbound_mail:
        return None
    active = (session.client("ses").describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")
    for inbound in definition.inbound_mail:
        if active != inbound.rule_set:
            now = f"the active one is {active!r}" if active else "none is active"
            return (
                f"SES receives email by the account's active receipt rule set, and {definition.stack_name} adds its "
                f"rule for {inbound.recipient} to {inbound.rule_set!r}, but {now} in this region. Make it once per "
                f'account and region (README, "Unsubscribe by email"):\n'
                f"  aws ses create-receipt-rule-set --rule-set-name {inbound.rule_set}\n"
                f"  aws ses set-active-receipt-rule-set --rule-set-name {inbound.rule_set}\n"
                "or, if the account receives email with another rule set already, set [nurture] receipt_rule_set "
                "to its name in the client file."
            )
    return None


def before_deploy(
    config: ClientConfig, definition: StackDefinition, session: Any, *, cdk: Sequence[str], clients_dir: Path
) -> int:
    if (problem := receipt_rule_set_problem(definition, session)) is not None:
        print(problem, file=sys.stderr)
        return 1
    if stack_exists(definition.stack_name, session):
        return 0
    kept = find_kept(definition, session)
    if not kept:
        return 0
    from infra.app import synthesize

    with tempfile.TemporaryDirectory(prefix="leadflow-adopt-") as outdir:
        template = synthesize([config.name], outdir, clients_dir=clients_dir, stages=[definition.stage])[
            definition.stack_name
        ]
    mapping = import_mapping(template, kept)
    names = ", ".join("/".join(identifier.values()) for identifier in mapping.values())  # a group: <pool id>/<name>
    print(f"{definition.stack_name} does not exist, but what it kept does: importing {names} into a new stack.")
    command = [
        *cdk,
        "import",
        "-c",
        f"client={config.name}",
        "-c",
        f"stage={definition.stage}",
        "-c",
        f"clients_dir={clients_dir}",
        "--resource-mapping-inline",
        json.dumps(mapping),
        definition.stack_name,
    ]
    return subprocess.run(command, cwd=REPO_ROOT, check=False).returncode


def _parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["before-destroy", "before-deploy"])
    parser.add_argument("--client", required=True, help="the client's name (clients/NAME.toml)")
    parser.add_argument("--stage", default=DEFAULT_STAGE, help=f"the stage (default: {DEFAULT_STAGE})")
    parser.add_argument("--clients-dir", type=Path, default=REPO_ROOT / "clients")
    parser.add_argument("--force", action="store_true", help="before-destroy: go on even if queues hold messages")
    parser.add_argument("--cdk", default="npx --no-install cdk --no-notices", help="before-deploy: the CDK CLI")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    args = _parse_arguments(argv)
    client_file = args.clients_dir / f"{args.client}.toml"
    try:
        config = load_client_config(client_file)
        definition = build_definition(config, args.stage)
    except (ConfigError, InvalidStageError) as problem:
        print(problem, file=sys.stderr)
        return 1
    if session is None:
        import boto3

        session = boto3.Session(region_name=config.aws.region)  # None: your profile's region
    if args.command == "before-destroy":
        return before_destroy(definition, session, force=args.force, client_file=client_file)
    return before_deploy(config, definition, session, cdk=shlex.split(args.cdk), clients_dir=args.clients_dir)


if __name__ == "__main__":
    sys.exit(main())
