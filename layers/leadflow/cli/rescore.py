"""`leadflow rescore`: qualify every open lead again with the client's current lead definition."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import typer

from leadflow.aws.event_bus import EventsNotPublished
from leadflow.aws.queues import QueueUnavailable
from leadflow.cli.stack_access import (
    DEFAULT_CLIENT,
    DEFAULT_CLIENTS_DIR,
    DEFAULT_ENDPOINT,
    ClientOption,
    ClientsDir,
    EndpointOption,
    LocalFlag,
    StackAccess,
    console,
    errors,
    open_stack,
    progress_bar,
)
from leadflow.lead.change import Conflict
from leadflow.lead.lifecycle import TRANSITIONS, InvalidTransition
from leadflow.lead.profile import LeadProfile
from leadflow.qualify.changes import plan_requalify, requalify_lead

RESCORE_REASON = "rescored with the current lead definition"
CLOSED_STAGES = frozenset(stage for stage, onward in TRANSITIONS.items() if not onward)  # won, lost


@dataclass
class RescoreTally:
    rescored: int = 0
    closed: int = 0  # won or lost: left alone
    score_changed: int = 0
    stage_moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)  # "lead id: what went wrong"

    @property
    def stage_changed(self) -> int:
        return sum(self.stage_moves.values())


RescoreOne = Callable[[LeadProfile, datetime, RescoreTally], None]


def rescore(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")] = False,
) -> None:
    """Score every open lead again with the lead definition in clients/NAME.toml; move it if its stage changed.

    Sales-ready leads and beyond get the new score but keep their stage; won and lost leads are left alone.
    """
    stack = open_stack(client, clients_dir, use_local, endpoint)
    total = stack.call(stack.store.count, "count the leads")
    tally = RescoreTally()
    rescore_one = _planner(stack) if dry_run else _writer(stack)
    now = datetime.now(UTC)
    progress = progress_bar()
    from botocore.exceptions import BotoCoreError, ClientError

    with progress:
        task = progress.add_task("Planning" if dry_run else "Rescoring", total=total or None)
        try:
            for page in stack.store.pages_of_leads(now=now):
                for profile in page:
                    if profile.get("stage") in CLOSED_STAGES:
                        tally.closed += 1
                    else:
                        tally.rescored += 1
                        rescore_one(profile, now, tally)
                    progress.advance(task)
        except (BotoCoreError, ClientError) as exc:
            progress.stop()
            _report(stack, tally, dry_run, stopped=True)
            stack.fail(exc, f"go on {'planning' if dry_run else 'rescoring'} (stopped after {tally.rescored} leads)")
    _report(stack, tally, dry_run)
    if tally.failed:
        raise typer.Exit(1)


def _planner(stack: StackAccess) -> RescoreOne:
    """Plan each lead's change from the profile as listed, as intake would, and count; write nothing."""

    def plan(profile: LeadProfile, now: datetime, tally: RescoreTally) -> None:
        try:
            change = plan_requalify(
                profile, stack.config.qualify, now, RESCORE_REASON, phone_first=stack.config.route.phone_first
            )
        except InvalidTransition as exc:
            tally.failed.append(f"{profile['lead_id']}: {exc}")
            return
        if change is None:
            return
        before, after = profile.get("stage", "new"), change.profile["stage"]
        if change.profile["score"] != profile.get("score"):
            tally.score_changed += 1
        if after != before:
            tally.stage_moves[before, after] += 1

    return plan


def _writer(stack: StackAccess) -> RescoreOne:
    """Requalify each lead as intake does (fresh read, versioned write, events), and count."""
    services = stack.services

    def write(profile: LeadProfile, now: datetime, tally: RescoreTally) -> None:
        lead_id = profile["lead_id"]
        try:
            change = requalify_lead(
                lead_id,
                services,
                stack.config.qualify,
                RESCORE_REASON,
                now=now,
                phone_first=stack.config.route.phone_first,
            ).change
        except LookupError:
            return  # gone since it was listed
        except Conflict:
            tally.failed.append(f"{lead_id}: it kept changing while being rescored")
            return
        except InvalidTransition as exc:
            tally.failed.append(f"{lead_id}: {exc}")
            return
        except (EventsNotPublished, QueueUnavailable) as exc:
            tally.failed.append(
                f"{lead_id}: rescored, but its events wait in its outbox until its next change "
                f"({type(exc).__name__}: {exc})"
            )
            return
        if change is None:
            return
        if change.profile["score"] != profile.get("score"):
            tally.score_changed += 1
        for entry in change.timeline:
            if entry["type"] == "stage_changed":
                tally.stage_moves[entry["from"], entry["to"]] += 1

    return write


def _report(stack: StackAccess, tally: RescoreTally, dry_run: bool, stopped: bool = False) -> None:
    verb = "would change" if dry_run else "changed"
    skipped = f"; {tally.closed} won or lost left alone" if tally.closed else ""
    if dry_run:
        lines = [f"Dry run, nothing written: {tally.rescored} open lead(s) planned with {stack.config_file}{skipped}."]
    else:
        lines = [f"Rescored {tally.rescored} open lead(s) with {stack.config_file}{skipped}."]
    lines.append(f"{tally.score_changed} {verb} score.")
    lines.append(f"{tally.stage_changed} {verb} stage{':' if tally.stage_moves else '.'}")
    lines += [f"  {before} -> {after}: {count}" for (before, after), count in sorted(tally.stage_moves.items())]
    if not stopped and dry_run and (tally.score_changed or tally.stage_changed):
        lines.append(f"Run `{stack.command('rescore')}` to apply.")
    elif not stopped and (tally.score_changed or tally.stage_changed):
        target = "restart `make run`" if stack.is_local else f"`make deploy CLIENT={stack.config.name}`"
        lines.append(
            f"New inquiries are qualified with the definition the functions were started with: {target} "
            f"if {stack.config_file} changed, so they use this one too."
        )
    console.print("\n".join(lines), markup=False, soft_wrap=True)
    if tally.failed:
        problems = [f"Not rescored: {failure}" for failure in tally.failed]
        problems.append(
            f"{len(tally.failed)} lead(s) not rescored (above): run `{stack.command('rescore')}` again; "
            "it writes only leads whose score or stage differs."
        )
        errors.print("\n".join(problems), markup=False)
