"""Synthesizing the CDK app: one stack per client, cdk-nag enforced, cfn-lint clean, offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from cfnlint.api import ManualArgs, lint_file

from infra.app import (
    DEFAULT_CLIENTS_DIR,
    REPO_ROOT,
    VALIDATION_REPORT,
    UnacknowledgedFindingsError,
    main,
    new_app,
    synth_checked,
)
from leadflow.config import find_client_files, load_client_config

pytestmark = pytest.mark.infra

CLIENT_STACKS = {f"Leads-{path.stem}": path for path in find_client_files(DEFAULT_CLIENTS_DIR)}

# Rules each acknowledged once per construct that needs it, each with a written reason.
REVIEWED_ACKNOWLEDGMENTS = {
    "AwsSolutions::AwsSolutions-IAM5[Resource::*]",  # X-Ray accepts no resource-level permissions
    "AwsSolutions::AwsSolutions-L1",  # Python 3.13, the version the dependency layer is built for
    "AwsSolutions::AwsSolutions-APIG2",  # capture, respond and follow_up validate their requests themselves
    "AwsSolutions::AwsSolutions-APIG3",  # no WAF unless the client's file switches the rate limit on
    # No authorizer, acknowledged route by route: the website endpoints (POST and OPTIONS /leads, GET
    # /leadflow.js) are public; the one-tap link page (GET and POST /r/{token}) is authorized by its signed token;
    # the signed-in API's description (GET /openapi.json) holds no data. Its other routes need an ID token.
    "AwsSolutions::AwsSolutions-APIG4",
    "AwsSolutions::AwsSolutions-COG4",
    # On the user pool: MFA optional (TOTP), so reps answer from a phone; no threat protection (the Plus plan).
    "AwsSolutions::AwsSolutions-COG2",
    "AwsSolutions::AwsSolutions-COG8",
    # Secrets never rotated, each with its own reason: a new lead id key would mean new lead ids, a new
    # link key would refuse the links in emails already sent.
    "AwsSolutions::AwsSolutions-SMG4",
    # The reports bucket: no server access logs (a second bucket per client for objects only the stack writes).
    "AwsSolutions::AwsSolutions-S1",
}
# The weekly report writes a new object a week under weekly/ of the reports bucket: a wildcard on that prefix only.
REPORT_OBJECTS = re.compile(r"AwsSolutions::AwsSolutions-IAM5\[Resource::<Bucketsreports[0-9A-F]{8}\.Arn>/weekly/\*\]")
WAF_ACKNOWLEDGMENT = "AwsSolutions::AwsSolutions-APIG3"

# cfn-lint checks left out, each for a reason.
CFN_LINT_IGNORED = [
    "W3005",  # CDK's Function keeps an explicit DependsOn on its role beside the GetAtt: redundant, harmless
]

# Loaded into every Python process (sitecustomize) and every Node.js process (jsii runs the
# CDK in Node.js) of a synth: any attempt to resolve a name or open a connection fails it.
PYTHON_NETWORK_GUARD = """
import socket

def _refuse(*args, **kwargs):
    raise OSError("network access during synth is not allowed")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
"""
NODE_NETWORK_GUARD = """
const refuse = () => { throw new Error("network access during synth is not allowed"); };
require("net").Socket.prototype.connect = refuse;
require("dns").lookup = refuse;
require("dns").promises.lookup = refuse;
"""


def network_guarded_environment(guard_dir: Path) -> dict[str, str]:
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(PYTHON_NETWORK_GUARD)
    (guard_dir / "no_network.js").write_text(NODE_NETWORK_GUARD)
    python_path = os.pathsep.join(filter(None, [str(guard_dir), os.environ.get("PYTHONPATH")]))
    node_options = " ".join(filter(None, [os.environ.get("NODE_OPTIONS"), f"--require {guard_dir / 'no_network.js'}"]))
    return {**os.environ, "PYTHONPATH": python_path, "NODE_OPTIONS": node_options}


def run_app(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "infra/app.py", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_every_client_file_becomes_its_own_stack(synthesized) -> None:
    assert set(synthesized.templates) == set(CLIENT_STACKS)


def acknowledged_rules(assembly_dir: Path, stack_name: str) -> dict[str, str]:
    """Each rule acknowledged somewhere in the stack, with its reason (from the stack's metadata)."""
    metadata = json.loads((assembly_dir / f"{stack_name}.metadata.json").read_text())
    return {
        rule: reason
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }


def test_cdk_nag_checked_the_demo_stack_and_every_acknowledgment_silenced_a_real_finding(synthesized) -> None:
    report = json.loads((synthesized.assembly_dir / VALIDATION_REPORT).read_text())
    [aws_solutions] = [plugin for plugin in report["pluginReports"] if plugin["pluginName"] == "AwsSolutions"]
    assert aws_solutions["conclusion"] == "success"
    assert aws_solutions["violations"] == []
    silenced_in_demo = {
        violation["acknowledgedId"]
        for violation in aws_solutions["suppressedViolations"]
        for construct in violation["violatingConstructs"]
        if construct["constructPath"].startswith("Leads-demo/")
    }
    # cdk-nag found in Leads-demo exactly what the stack acknowledges: it ran on it, and no
    # acknowledgment is left over from a finding that is gone.
    assert silenced_in_demo == set(acknowledged_rules(synthesized.assembly_dir, "Leads-demo"))


def test_a_cdk_nag_error_fails_synth(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    sqs.Queue(Stack(app, "Throwaway"), "Unencrypted", encryption=sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(UnacknowledgedFindingsError) as stopped:
        synth_checked(app)
    assert ("error", "AwsSolutions-SQS2") in {(f.severity, f.rule) for f in stopped.value.findings}


def test_a_cdk_nag_warning_fails_synth_too(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    dynamodb.Table(
        Stack(app, "Throwaway"),
        "WithoutPointInTimeRecovery",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
    )
    with pytest.raises(UnacknowledgedFindingsError) as stopped:
        synth_checked(app)
    assert {(f.severity, f.rule) for f in stopped.value.findings} == {("warning", "AwsSolutions-DDB3")}


def test_every_acknowledged_rule_is_a_reviewed_one_with_its_reason(synthesized) -> None:
    acknowledged = acknowledged_rules(synthesized.assembly_dir, "Leads-demo")
    on_report_objects = {rule for rule in acknowledged if REPORT_OBJECTS.fullmatch(rule)}
    assert len(on_report_objects) == 1
    assert set(acknowledged) - on_report_objects == REVIEWED_ACKNOWLEDGMENTS
    assert all(len(reason) >= 60 for reason in acknowledged.values()), acknowledged


def acknowledged_on_methods(assembly_dir: Path, rule: str) -> dict[str, str]:
    """Each API method (as "<path>/<METHOD>") that acknowledges the rule, with its reason."""
    metadata = json.loads((assembly_dir / "Leads-demo.metadata.json").read_text())
    return {
        path.removeprefix("/Leads-demo/Api/RestApi/Default"): entry["data"][rule]
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules" and rule in entry["data"]
    }


PUBLIC_METHODS = {
    "/leads/POST",
    "/leads/OPTIONS",
    "/leadflow.js/GET",
    "/r/{token}/GET",
    "/r/{token}/POST",
    "/openapi.json/GET",
    "/u/{token}/GET",
    "/u/{token}/POST",
    "/c/{token}/GET",
}


def test_each_route_without_an_authorizer_is_acknowledged_on_its_own_method_with_its_own_reason(
    synthesized,
) -> None:
    reasons = acknowledged_on_methods(synthesized.assembly_dir, "AwsSolutions::AwsSolutions-APIG4")
    assert set(reasons) == PUBLIC_METHODS
    assert "token" in reasons["/r/{token}/POST"]
    assert "signed" in reasons["/r/{token}/POST"]
    assert "Public website endpoint" in reasons["/leads/POST"]
    assert "OpenAPI" in reasons["/openapi.json/GET"]
    assert "no lead" in reasons["/openapi.json/GET"]
    assert "RFC 8058" in reasons["/u/{token}/POST"]
    assert "one URL it may redirect to" in reasons["/c/{token}/GET"]


def test_no_route_that_needs_an_id_token_acknowledges_a_missing_authorizer(synthesized) -> None:
    for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
        assert set(acknowledged_on_methods(synthesized.assembly_dir, rule)) == PUBLIC_METHODS, rule


def test_a_client_with_the_waf_rate_limit_on_needs_no_waf_acknowledgment(synthesized) -> None:
    for stack_name, client_file in CLIENT_STACKS.items():
        waf_on = load_client_config(client_file).protection.rate_limit_per_5_minutes > 0
        acknowledged = acknowledged_rules(synthesized.assembly_dir, stack_name)
        assert (WAF_ACKNOWLEDGMENT in acknowledged) is not waf_on, stack_name
        assert {rule for rule in acknowledged if not REPORT_OBJECTS.fullmatch(rule)} <= REVIEWED_ACKNOWLEDGMENTS
    assert load_client_config(CLIENT_STACKS["Leads-acme-eu"]).protection.rate_limit_per_5_minutes > 0


@pytest.mark.parametrize("stack_name", sorted(CLIENT_STACKS))
def test_template_passes_cfn_lint(synthesized, stack_name: str) -> None:
    region = load_client_config(CLIENT_STACKS[stack_name]).aws.region or "us-east-1"
    matches = lint_file(
        synthesized.template_file(stack_name), ManualArgs(regions=[region], ignore_checks=CFN_LINT_IGNORED)
    )
    assert [str(match) for match in matches] == []


def test_client_aws_target_sets_the_stack_account_and_region(synthesized) -> None:
    manifest = json.loads((synthesized.assembly_dir / "manifest.json").read_text())
    environments = {
        name: artifact["environment"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert environments["Leads-acme-eu"] == "aws://123456789012/eu-west-1"
    assert environments["Leads-demo"] == "aws://unknown-account/unknown-region"


def test_alarm_email_is_subscribed_only_when_configured(synthesized) -> None:
    for stack_name, client_file in CLIENT_STACKS.items():
        subscriptions = [
            resource["Properties"]["Endpoint"]
            for resource in synthesized.templates[stack_name]["Resources"].values()
            if resource["Type"] == "AWS::SNS::Subscription" and resource["Properties"]["Protocol"] == "email"
        ]
        alarm_email = load_client_config(client_file).monitoring.alarm_email
        assert subscriptions == ([alarm_email] if alarm_email else [])


def test_synth_makes_no_network_call(tmp_path: Path) -> None:
    env = network_guarded_environment(tmp_path / "network_guard")
    for guard_check in (
        [sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))"],
        ["node", "-e", "require('net').connect(9, '127.0.0.1')"],
    ):
        refused = subprocess.run(guard_check, env=env, capture_output=True, text=True, check=False)
        assert "network access during synth is not allowed" in refused.stderr  # the guard is on

    result = run_app("-c", "client=all", "-o", str(tmp_path / "cdk.out"), env=env)

    assert result.returncode == 0, result.stderr
    written = {path.name for path in (tmp_path / "cdk.out").glob("*.template.json")}
    assert written == {f"{stack_name}.template.json" for stack_name in CLIENT_STACKS}


def test_bad_client_file_stops_synth_naming_file_field_and_what_is_allowed(tmp_path: Path) -> None:
    clients_dir = tmp_path / "clients"
    clients_dir.mkdir()
    demo = (DEFAULT_CLIENTS_DIR / "demo.toml").read_text()
    bad = re.sub(r"^allowed_origins = .*$", 'allowed_origins = ["example.com/path"]', demo, flags=re.MULTILINE)
    assert bad != demo
    (clients_dir / "demo.toml").write_text(bad)

    result = run_app("-c", "client=demo", "-c", f"clients_dir={clients_dir}", "-o", str(tmp_path / "cdk.out"))

    assert result.returncode == 1
    assert str(clients_dir / "demo.toml") in result.stderr
    assert "capture.allowed_origins[0] = 'example.com/path'" in result.stderr
    assert "must be an origin: scheme and host with an optional port and no path" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cdk.out" / "Leads-demo.template.json").exists()


def test_one_bad_client_file_stops_only_its_own_stack_when_synthesizing_all(tmp_path: Path) -> None:
    clients_dir = tmp_path / "clients"
    clients_dir.mkdir()
    demo = (DEFAULT_CLIENTS_DIR / "demo.toml").read_text()
    (clients_dir / "demo.toml").write_text(demo)
    broken = demo.replace('name = "demo"', 'name = "broken"') + "\n[protection]\nrate_limit_per_5_minutes = 5\n"
    (clients_dir / "broken.toml").write_text(broken)
    broken_line = len(broken.splitlines())

    result = run_app("-c", "client=all", "-c", f"clients_dir={clients_dir}", "-o", str(tmp_path / "cdk.out"))

    assert result.returncode == 1
    assert (tmp_path / "cdk.out" / "Leads-demo.template.json").is_file()  # the good client is synthesized
    assert not (tmp_path / "cdk.out" / "Leads-broken.template.json").exists()
    assert str(clients_dir / "broken.toml") in result.stderr
    problem = f"line {broken_line}, protection.rate_limit_per_5_minutes = 5: must be 0 (off) or at least 10"
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_a_stage_that_would_give_a_client_another_clients_names_stops_synth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clients_dir = tmp_path / "clients"
    clients_dir.mkdir()
    demo = (DEFAULT_CLIENTS_DIR / "demo.toml").read_text()
    (clients_dir / "demo.toml").write_text(demo)
    (clients_dir / "demo-eu.toml").write_text(demo.replace('name = "demo"', 'name = "demo-eu"'))

    assert main(["-c", "client=demo", "-c", "stage=eu", "-c", f"clients_dir={clients_dir}", "-o", str(tmp_path)]) == 1
    assert "stage 'eu' would give client 'demo' the names of client 'demo-eu'" in capsys.readouterr().err
    assert main(["-c", "client=demo", "-c", "stage=Staging-1", "-o", str(tmp_path)]) == 1
    assert "stage 'Staging-1' is not a valid stage name" in capsys.readouterr().err


def test_synth_without_a_client_lists_the_available_clients(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-o", str(tmp_path)]) == 1
    message = capsys.readouterr().err
    assert "cdk synth -c client=NAME" in message
    assert ", ".join(path.stem for path in CLIENT_STACKS.values()) in message


def test_a_function_behind_a_route_that_asks_for_the_apis_url_stops_synth_naming_it(tmp_path: Path) -> None:
    from dataclasses import replace

    from infra.layer_build import layers_for_synth
    from infra.stack import LeadsStack
    from leadflow.definition import ResourceRef, build_definition

    config = load_client_config(DEFAULT_CLIENTS_DIR / "demo.toml")
    definition = build_definition(config)
    respond = definition.function("respond")
    asking = replace(respond, environment={**respond.environment, "PUBLIC_API_URL": ResourceRef("api_url", "api")})
    functions = tuple(asking if spec.key == "respond" else spec for spec in definition.functions)
    with pytest.raises(ValueError, match="respond is behind a route of the API and asks for its URL"):
        LeadsStack(
            new_app(tmp_path),
            config=config,
            definition=replace(definition, functions=functions),
            layer_paths=layers_for_synth(config),
        )
