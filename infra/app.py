"""The CDK app: one stack per client, `Leads-<client>`, from `clients/<client>.toml`.

    cdk synth -c client=demo                 # stack Leads-demo
    cdk synth -c client=all                  # every clients/*.toml
    cdk synth -c client=demo -c stage=staging  # stack Leads-demo-staging, names leadflow-demo-staging-...
    cdk synth -c client=demo -c clients_dir=path/to/clients
    python infra/app.py -c client=demo       # the same without the CDK CLI (writes cdk.out/)

Synthesizing reads local files only: no AWS call, no lookup, no pip, no network. A bad client
file, an unknown client or an unbuilt dependency layer stops it with a message saying what
to fix and exit code 1; with `-c client=all`, a bad file stops only its own client: the others
are synthesized, then the bad files are named and the exit code is 1. cdk-nag's AwsSolutions
checks run during synth: any finding nobody acknowledged with a reason, error or warning, fails it.

Tests build the same app through `synthesize(["demo"], outdir)`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# `python infra/app.py` (what cdk.json runs) starts with infra/ on sys.path, where infra/constructs/
# could pass for the `constructs` library: import from the repository root and layers/ instead.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if str(Path(__file__).resolve().parent) in sys.path:
    sys.path.remove(str(Path(__file__).resolve().parent))

from aws_cdk import App, Validations, cx_api
from cdk_nag import AwsSolutionsChecks

from infra.layer_build import LayerNotBuiltError, layers_for_synth
from infra.stack import LeadsStack
from leadflow.config import ClientConfig, ConfigError, find_client_files, load_client_config
from leadflow.definition import DEFAULT_STAGE, InvalidStageError, build_definition, check_stage

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIENTS_DIR = REPO_ROOT / "clients"
DEFAULT_OUTDIR = REPO_ROOT / "cdk.out"
ALL_CLIENTS = "all"
VALIDATION_REPORT = "validation-report.json"


class UnknownClientError(Exception):
    """The client asked for has no file (or none was asked for)."""


@dataclass(frozen=True)
class Finding:
    """One finding of a validation plugin (cdk-nag's AwsSolutions, CDK's own checks) nobody acknowledged."""

    plugin: str
    severity: str  # "error" or "warning"
    rule: str  # e.g. "AwsSolutions-SQS2"
    construct_path: str
    description: str

    def __str__(self) -> str:
        return f"{self.severity} {self.rule} ({self.plugin}) at {self.construct_path}: {self.description}"


class UnacknowledgedFindingsError(Exception):
    """Validation found problems (errors or warnings) that nobody acknowledged with a reason."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__(
            "Synth stopped by validation findings. Fix each one, or acknowledge it with its reason "
            "(Validations.of(construct).acknowledge(Acknowledgment(id=..., reason=...))):\n"
            + "\n".join(f"  - {finding}" for finding in findings)
        )


def new_app(outdir: str | Path | None = None, context: dict[str, str] | None = None) -> App:
    """A CDK app with cdk-nag's AwsSolutions checks, whose findings fail synth (see synth_checked)."""
    # No AWS::CDK::Metadata resource: a template holds what the definition declares and its support.
    app = App(outdir=str(outdir) if outdir else None, context=context, analytics_reporting=False)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def client_names(requested: str | None, clients_dir: Path = DEFAULT_CLIENTS_DIR) -> list[str]:
    """The clients `-c client=...` means: one name, or `all` of the files in clients_dir."""
    available = [path.stem for path in find_client_files(clients_dir)]
    listing = f"Clients in {clients_dir}: {', '.join(available) or '(none)'}"
    if not requested:
        raise UnknownClientError(
            f"Which client? Run `cdk synth -c client=NAME` (or -c client={ALL_CLIENTS}).\n{listing}"
        )
    if requested == ALL_CLIENTS:
        if not available:
            raise UnknownClientError(f"No client files (*.toml) in {clients_dir}.")
        return available
    if requested not in available:
        raise UnknownClientError(f"No client file {clients_dir / (requested + '.toml')}.\n{listing}")
    return [requested]


def load_client_configs(
    names: Sequence[str], clients_dir: Path = DEFAULT_CLIENTS_DIR
) -> tuple[list[ClientConfig], list[ConfigError]]:
    """Every named client's checked config, and the problems of the files that are not usable."""
    configs: list[ClientConfig] = []
    problems: list[ConfigError] = []
    for name in names:
        try:
            configs.append(load_client_config(clients_dir / f"{name}.toml"))
        except ConfigError as problem:
            problems.append(problem)
    return configs, problems


def check_stage_of(names: Sequence[str], stage: str, clients_dir: Path = DEFAULT_CLIENTS_DIR) -> None:
    """A stage must not make one client's names another client's: `acme` at stage `eu` is client `acme-eu`."""
    check_stage(stage)
    if stage == DEFAULT_STAGE:
        return
    available = {path.stem for path in find_client_files(clients_dir)}
    taken = sorted(f"{name}-{stage}" for name in names if f"{name}-{stage}" in available)
    if taken:
        raise InvalidStageError(
            f"stage {stage!r} would give client {taken[0].removesuffix('-' + stage)!r} the names of client "
            f"{taken[0]!r} ({clients_dir / (taken[0] + '.toml')}): pick another stage name"
        )


def add_client_stacks(app: App, configs: Sequence[ClientConfig], stage: str = DEFAULT_STAGE) -> list[LeadsStack]:
    """Add one LeadsStack per checked client config to the app, at the given stage."""
    return [
        LeadsStack(
            app,
            config=config,
            definition=build_definition(config, stage),
            layer_paths=layers_for_synth(config),
        )
        for config in configs
    ]


def build_app(
    names: Sequence[str],
    outdir: str | Path,
    *,
    clients_dir: Path = DEFAULT_CLIENTS_DIR,
    stages: Sequence[str] = (DEFAULT_STAGE,),
) -> App:
    """An app with every named client's stack at every given stage; the first bad client file stops it."""
    app = new_app(outdir)
    configs, problems = load_client_configs(names, clients_dir)
    if problems:
        raise problems[0]
    for stage in stages:
        check_stage_of(names, stage, clients_dir)
        add_client_stacks(app, configs, stage)
    return app


def findings_in(validation_report: Path) -> list[Finding]:
    """The unacknowledged findings a synth's validation report lists."""
    if not validation_report.is_file():
        return []
    report = json.loads(validation_report.read_text())
    return [
        Finding(
            plugin=plugin["pluginName"],
            severity=violation["severity"],
            rule=violation["ruleName"],
            construct_path=construct["constructPath"],
            description=violation["description"],
        )
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]


def synth_checked(app: App) -> cx_api.CloudAssembly:
    """Synthesize; any cdk-nag finding left unacknowledged, error or warning, stops it."""
    validation_report = Path(app.outdir) / VALIDATION_REPORT
    validation_report.unlink(missing_ok=True)
    try:
        assembly = app.synth()
    except RuntimeError:  # jsii's form of every JavaScript error: keep those that are not findings
        findings = findings_in(validation_report)
        if not findings:
            raise
        raise UnacknowledgedFindingsError(findings) from None
    findings = findings_in(validation_report)
    if findings:  # warnings only: CDK lets them pass, leadflow does not
        raise UnacknowledgedFindingsError(findings)
    return assembly


def synthesize(
    names: Sequence[str],
    outdir: str | Path,
    *,
    clients_dir: Path = DEFAULT_CLIENTS_DIR,
    stages: Sequence[str] = (DEFAULT_STAGE,),
) -> dict[str, dict]:
    """Synthesize the clients' stacks into outdir; return each CloudFormation template by stack name."""
    assembly = synth_checked(build_app(names, outdir, clients_dir=clients_dir, stages=stages))
    return {stack.stack_name: stack.template for stack in assembly.stacks}


def _parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Synthesize leadflow client stacks (what `cdk synth` runs).")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"as with cdk: client=NAME or client={ALL_CLIENTS}; stage=NAME; clients_dir=DIR",
    )
    parser.add_argument("-o", "--output", help="where to write the cloud assembly (default: cdk.out)")
    args = parser.parse_args(argv)
    malformed = [pair for pair in args.context if "=" not in pair]
    if malformed:
        parser.error(f"context must be KEY=VALUE, not {malformed[0]!r}")
    args.context = dict(pair.split("=", 1) for pair in args.context)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_arguments(argv)
    app = new_app(args.output or os.environ.get("CDK_OUTDIR") or DEFAULT_OUTDIR, context=args.context)
    clients_dir = Path(app.node.try_get_context("clients_dir") or DEFAULT_CLIENTS_DIR)
    stage = str(app.node.try_get_context("stage") or DEFAULT_STAGE)
    bad_files: list[ConfigError] = []
    try:
        names = client_names(app.node.try_get_context("client"), clients_dir)
        check_stage_of(names, stage, clients_dir)
        configs, bad_files = load_client_configs(names, clients_dir)
        if configs:  # one bad file stops its own client only
            add_client_stacks(app, configs, stage)
            synth_checked(app)
    except (UnknownClientError, InvalidStageError, LayerNotBuiltError, UnacknowledgedFindingsError) as problem:
        for bad_file in bad_files:
            print(bad_file, file=sys.stderr)
        print(problem, file=sys.stderr)
        return 1
    if bad_files:
        for bad_file in bad_files:
            print(bad_file, file=sys.stderr)
        synthesized = ", ".join(config.name for config in configs) or "none"
        print(
            f"{len(bad_files)} client file(s) not synthesized: {', '.join(str(bad.path) for bad in bad_files)} "
            f"(synthesized: {synthesized})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
