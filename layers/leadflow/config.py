"""A client's configuration: one TOML file per client in `clients/`, checked by pydantic.

The same model is checked when the CDK app synthesizes, when `leadflow local` starts, and
when a function starts cold (the file ships with the functions), so a mistake is caught
before anything is deployed and names the file, the line, the field, the value and what
is allowed.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from leadflow.route.calendar import WorkingCalendar

CLIENT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_ORIGIN = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _origin(value: str) -> str:
    from leadflow.capture.request import normalize_origin

    if not _ORIGIN.match(value.rstrip(".")):
        raise ValueError(
            "must be an origin: scheme and host with an optional port and no path, "
            "like https://www.example.com or http://localhost:8080"
        )
    return normalize_origin(value)  # as browsers send it, so that the comparison holds


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an absolute http(s) URL, like https://www.example.com/thank-you")
    return value


def _field_names(mapping: dict[str, str]) -> dict[str, str]:
    """[capture.field_names]: each website field name fills one leadflow field, or custom.<name>."""
    from leadflow.capture.inquiry import KNOWN_FIELDS, LEADFLOW_FIELDS, SLUG  # a leaf module: the standard library only

    problems = []
    for name, target in mapping.items():
        entry = f'"{name}" = "{target}"'
        if not name.strip() or len(name) > 100 or not name.isprintable():
            problems.append(f"{entry}: a website's field name is 1 to 100 printable characters")
        elif name in KNOWN_FIELDS or name.startswith(("custom.", "custom[")):
            problems.append(f"{entry}: {name} is a leadflow name already, which needs no entry: remove it")
        if target.startswith("custom."):
            if not SLUG.match(target.removeprefix("custom.")):
                problems.append(
                    f"{entry}: a custom field is custom.<name>, the name in lower-case letters, digits and _, "
                    "starting with a letter (like custom.fleet_size)"
                )
        elif target not in LEADFLOW_FIELDS:
            near = difflib.get_close_matches(target, LEADFLOW_FIELDS, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            problems.append(
                f"{entry}: {target!r} is not a leadflow field: {hint}use one of {', '.join(LEADFLOW_FIELDS)}, "
                "or custom.<name> to keep it as a custom field"
            )
    if problems:
        raise ValueError("; ".join(problems))
    return mapping


Origin = Annotated[str, AfterValidator(_origin)]
Url = Annotated[str, AfterValidator(_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AwsTarget(_Strict):
    """Where the client's stack deploys. Leave out to use the deploying user's defaults."""

    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")


class CaptureSettings(_Strict):
    """How `POST /leads` treats what websites send."""

    allowed_origins: list[Origin] = Field(min_length=1)
    thank_you_url: Url
    error_url: Url | None = None
    honeypot_field: str = Field(default="website", pattern=_FIELD_NAME.pattern)
    max_body_kb: int = Field(default=32, ge=1, le=256)
    max_field_chars: int = Field(default=500, ge=50, le=5000)
    max_message_chars: int = Field(default=5000, ge=100, le=20000)
    max_custom_fields: int = Field(default=30, ge=0, le=30)
    # The website's own field names and the leadflow field each fills ("your-email" = "email").
    field_names: Annotated[dict[str, str], AfterValidator(_field_names)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _honeypot_is_no_field_people_fill_in(self) -> CaptureSettings:
        from leadflow.capture.inquiry import KNOWN_FIELDS

        if self.honeypot_field in KNOWN_FIELDS:
            raise ValueError(
                f"honeypot_field {self.honeypot_field!r} is a leadflow field people fill in, so every inquiry "
                "would be taken for a bot: name a hidden field people never see, like website"
            )
        if self.honeypot_field in self.field_names:
            raise ValueError(
                f'field_names: "{self.honeypot_field}" is the honeypot_field, which people never fill in: '
                "remove its entry, or choose another honeypot_field"
            )
        return self


ScalarValue = str | int | float | bool


class Condition(_Strict):
    """A predicate on one fact of a lead: exactly one of `equals`, `in`, `contains`,
    `between = [min, max]` or `matches` (a regular expression, searched; start it with (?i)
    to ignore case). A fact the lead does not have matches nothing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str
    equals: ScalarValue | None = None
    in_: list[ScalarValue] | None = Field(default=None, alias="in", min_length=1)
    contains: str | None = Field(default=None, min_length=1)
    between: tuple[float, float] | None = None
    matches: str | None = None

    def _label(self) -> str:
        return f"condition on {self.field!r}"

    @classmethod
    def known_fields(cls) -> dict[str, str]:
        from leadflow.qualify.facts import FACT_FIELDS

        return FACT_FIELDS

    @model_validator(mode="after")
    def _one_valid_predicate_on_a_known_fact(self) -> Condition:
        from leadflow.qualify.facts import CUSTOM_FIELD

        known = self.known_fields()
        label = self._label()
        if self.field not in known and not CUSTOM_FIELD.match(self.field):
            near = difflib.get_close_matches(self.field, known, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ValueError(
                f"{label}: unknown field {self.field!r}: {hint}use one of "
                f"{', '.join(known)}, or custom.<name> for a custom form field"
            )
        given = [p for p in ("equals", "in_", "contains", "between", "matches") if getattr(self, p) is not None]
        if len(given) != 1:
            raise ValueError(
                f"{label}: give exactly one of equals, in, contains, between or matches"
                f" (it has {', '.join(g.rstrip('_') for g in given) or 'none'})"
            )
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError(f"{label}: between = [min, max] needs min <= max")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(
                    f"{label}: matches = {self.matches!r} is not a valid regular expression ({exc}); "
                    "escape special characters like ( ) [ ] . + * ? with a backslash"
                ) from None
        return self


class ScoringRule(Condition):
    """One rule of the lead definition: a predicate on one fact (see Condition), and its points."""

    name: str = Field(min_length=1, max_length=80)
    points: float = 0
    disqualify: bool = False

    def _label(self) -> str:
        return f"rule {self.name!r}"


class FitRule(ScoringRule):
    @model_validator(mode="after")
    def _adds_points(self) -> FitRule:
        if self.points <= 0 or self.disqualify:
            raise ValueError(
                f"rule {self.name!r}: a fit rule adds points (points > 0); "
                "put rules that take points away or disqualify under [[qualify.negative]]"
            )
        return self


class NegativeRule(ScoringRule):
    @model_validator(mode="after")
    def _takes_points_or_disqualifies(self) -> NegativeRule:
        if self.points > 0 or (self.points == 0 and not self.disqualify):
            raise ValueError(
                f"rule {self.name!r}: a negative rule takes points away (points < 0) or sets disqualify = true; "
                "put rules that add points under [[qualify.fit]]"
            )
        return self


class EngagementSettings(_Strict):
    """Points for what a lead does; each fades by half every `half_life_days`."""

    half_life_days: float = Field(default=30, gt=0, le=3650)
    repeat_inquiry: float = Field(default=10, ge=0, le=1000)
    email_click: float = Field(default=5, ge=0, le=1000)
    # Pages of interest: a path the inquiry's page URL contains, and its points.
    pages: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _page_points_are_positive(self) -> EngagementSettings:
        negative = [path for path, points in self.pages.items() if points < 0]
        if negative:
            raise ValueError(f"pages {', '.join(negative)}: engagement points must be 0 or more")
        return self


class VerificationSettings(_Strict):
    junk_disposable_email: bool = True
    junk_test_data: bool = True
    # Region for phone numbers sent without a country code (ISO code, like US or DE).
    default_phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")


class QualifySettings(_Strict):
    """The client's lead definition: what makes a lead junk, worth nurturing, or sales-ready."""

    marketing_qualified: float = Field(default=30, ge=0)
    sales_ready: float = Field(default=60, gt=0)
    # Inquiry types that are sales-ready whatever the score: the visitor asked for sales.
    hand_raise: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]] = Field(
        default_factory=lambda: ["demo_request", "contact_sales"]
    )
    verification: VerificationSettings = VerificationSettings()
    engagement: EngagementSettings = EngagementSettings()
    fit: list[FitRule] = Field(default_factory=list)
    negative: list[NegativeRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> QualifySettings:
        if self.sales_ready <= self.marketing_qualified:
            raise ValueError("sales_ready must be above marketing_qualified")
        names = [rule.name for rule in (*self.fit, *self.negative)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique, so reasons can be told apart: {', '.join(repeated)}")
        return self


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
RejectOutcome = Literal["nurture", "junk"]
DEFAULT_REJECT_REASONS: dict[str, RejectOutcome] = {
    "not_a_fit": "junk",
    "not_ready": "nurture",
    "duplicate": "junk",
    "wrong_team": "nurture",
}
_SLUG = r"^[a-z][a-z0-9_-]{0,39}$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# A domain name: dot-separated labels of letters, digits and inner hyphens, at least two, lower case.
_DOMAIN_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"


class WorkingHours(_Strict):
    """When a team works: its time zone, working days, hours of a working day and holidays."""

    timezone: str = "UTC"
    workdays: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK), min_length=1)
    hours: list[str] = Field(default_factory=lambda: ["09:00-17:00"], min_length=1)  # HH:MM-HH:MM, local time
    holidays: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _makes_a_calendar(self) -> WorkingHours:
        self.calendar()
        return self

    def calendar(self) -> WorkingCalendar:
        from leadflow.route.calendar import working_calendar

        return working_calendar(self.timezone, tuple(self.workdays), tuple(self.hours), tuple(self.holidays))


class AcceptDeadline(_Strict):
    """How long the owner has to accept a lead, in the team's working minutes, and what follows."""

    minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    # Shorter (or longer) deadlines for some leads: by the routing rule's priority, by inquiry type.
    by_priority: dict[str, Annotated[int, Field(ge=1, le=60 * 24 * 30)]] = Field(default_factory=dict)
    by_inquiry_type: dict[str, Annotated[int, Field(ge=1, le=60 * 24 * 30)]] = Field(default_factory=dict)
    # A reminder to the owner this many working minutes before the deadline (0: none).
    remind_before_minutes: int = Field(default=10, ge=0)
    # Past the deadline the lead goes to the next available rep, this many times; then it escalates.
    reassign_times: int = Field(default=1, ge=0, le=10)
    # Escalation: to the team's manager, or back to the team's queue.
    escalate_to: Literal["manager", "queue"] = "manager"

    @model_validator(mode="after")
    def _reminder_before_deadline(self) -> AcceptDeadline:
        shortest = min([self.minutes, *self.by_priority.values(), *self.by_inquiry_type.values()])
        if self.remind_before_minutes >= shortest:
            raise ValueError(
                f"remind_before_minutes ({self.remind_before_minutes}) must be below the shortest deadline "
                f"({shortest} minutes), or the reminder would come before the lead is assigned; lower it, or 0 for none"
            )
        return self


class Team(_Strict):
    """A team leads are routed to: how it picks an owner, who manages it, when it works."""

    strategy: Literal["round_robin", "weighted_round_robin", "least_loaded"] = "round_robin"
    manager: str | None = Field(default=None, pattern=_EMAIL)
    # Route only to reps at work now (their own hours, else the team's); off: any available rep.
    only_at_work: bool = True
    calendar: WorkingHours = WorkingHours()
    accept: AcceptDeadline = AcceptDeadline()

    @model_validator(mode="after")
    def _escalation_has_a_manager(self) -> Team:
        if self.accept.escalate_to == "manager" and self.manager is None:
            raise ValueError(
                'accept.escalate_to is manager but the team has no manager: set manager = "name@example.com", '
                'or escalate_to = "queue"'
            )
        return self


class RoutingCondition(Condition):
    @classmethod
    def known_fields(cls) -> dict[str, str]:
        from leadflow.route.facts import ROUTING_FIELDS

        return ROUTING_FIELDS


class RoutingRule(_Strict):
    """Leads for which every condition holds go to `team` (rules are tried in order; the first wins)."""

    name: str = Field(min_length=1, max_length=80)
    team: str
    priority: str = Field(default="normal", pattern=_SLUG)
    # A segment reps can cover (their territories): only reps with it, or with the lead's country, get these leads.
    segment: str | None = Field(default=None, pattern=_SLUG)
    when: list[RoutingCondition] = Field(default_factory=list)  # none: every lead


class RouteSettings(_Strict):
    """Who gets a sales-ready lead: teams, the ordered rules that pick a team, account matching."""

    teams: dict[Annotated[str, Field(pattern=_SLUG)], Team] = Field(default_factory=dict)
    rules: list[RoutingRule] = Field(default_factory=list)
    # The team whose queue takes leads no rule matches; by default the first team.
    default_team: str | None = None
    # A lead from a company whose lead is owned and open, or won, in this many days goes to that owner (0: off).
    account_match_days: int = Field(default=180, ge=0, le=3650)
    # Phone first: marketing-qualified leads go to this team (inside sales) to be qualified by phone.
    qualification_team: str | None = None

    @model_validator(mode="after")
    def _teams_exist(self) -> RouteSettings:
        known = ", ".join(self.teams) or "none yet: add [route.teams.<name>]"
        named: list[tuple[str, str | None]] = [
            (f"rules[{i}] ({rule.name!r}).team", rule.team) for i, rule in enumerate(self.rules)
        ]
        named += [("default_team", self.default_team), ("qualification_team", self.qualification_team)]
        for where, team in named:
            if team is not None and team not in self.teams:
                raise ValueError(f"{where} = {team!r} is not a team: use one of {known}")
        names = [rule.name for rule in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"routing rule names must be unique, so decisions can be told apart: {', '.join(repeated)}"
            )
        return self

    @property
    def phone_first(self) -> bool:
        return self.qualification_team is not None

    @property
    def fallback_team(self) -> str | None:
        return self.default_team or next(iter(self.teams), None)


class FollowUpSettings(_Strict):
    """What reps record after a lead reaches them: why they reject one, why a deal is lost."""

    # Why a rep may reject a lead, and where each reason sends it: back to nurture, or junk.
    reject_reasons: dict[Annotated[str, Field(pattern=_SLUG)], RejectOutcome] = Field(
        default_factory=DEFAULT_REJECT_REASONS.copy, min_length=1
    )
    lost_reasons: list[Annotated[str, Field(pattern=_SLUG)]] = Field(
        default_factory=lambda: ["no_budget", "no_decision", "competitor", "timing", "no_response", "other"],
        min_length=1,
    )
    # Currencies a won deal may be recorded in (ISO 4217); reports sum revenue per currency.
    currencies: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] = Field(
        default_factory=lambda: ["EUR", "USD", "GBP"]
    )


WEBHOOK_EVENTS = (
    "LeadQualified", "LeadStageChanged", "LeadAssigned", "LeadQueued", "LeadReassigned", "LeadEscalated",
    "LeadSlaReminder", "LeadSlaBreached", "LeadAccepted", "LeadRejected", "LeadContacted", "LeadMeetingBooked",
    "LeadOpportunityOpened", "LeadWon", "LeadLost", "LeadNoteAdded", "LeadClaimed", "LeadSuppressed",
)  # fmt: skip


def _https_url(value: str) -> str:
    if not value.startswith("https://") and not value.startswith(("http://localhost", "http://127.0.0.1")):
        raise ValueError("must be an https:// URL (http only for localhost while testing)")
    return _url(value)


class Webhook(_Strict):
    """A client's own system (a CRM, a chat) told of leads' events, signed with the stack's webhook key."""

    name: str = Field(pattern=_SLUG)
    url: Annotated[str, AfterValidator(_https_url)]
    events: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_events(self) -> Webhook:
        unknown = [event for event in self.events if event not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(
                f"webhook {self.name!r}: {', '.join(unknown)} is no event leadflow publishes; "
                f"use {', '.join(WEBHOOK_EVENTS)}"
            )
        return self


class NotifySettings(_Strict):
    """The emails leadflow sends to people at the client (a lead's owner, a team's manager)."""

    # The sender. The client's default stage creates its SES identity, and SES mails the address a
    # verification link: follow it before the first lead is routed (an address verified before by
    # hand makes that deploy fail: remove the identity first, or let the stack own it).
    from_address: str = Field(default="leads@example.com", pattern=_EMAIL)
    from_name: str = Field(default="leadflow", min_length=1, max_length=80, pattern=r"^[^\r\n\x00-\x1f\x7f]+$")
    # How long a one-tap Accept / Reject link in an owner's email works.
    link_days: int = Field(default=7, ge=1, le=30)
    # Where links in emails point: the API's own URL unless the client serves it under a domain of theirs.
    public_url: Url | None = None
    # Webhooks: each gets the events it names, as JSON, POSTed with a Leadflow-Signature header.
    webhooks: list[Webhook] = Field(default_factory=list)

    @model_validator(mode="after")
    def _webhook_names_unique(self) -> NotifySettings:
        names = [hook.name for hook in self.webhooks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"webhook names must be unique: {', '.join(repeated)}")
        return self


class EmailTemplates(_Strict):
    """An email's subject, HTML body and text body: Jinja2 templates over the lead's fields (see
    leadflow.nurture.templates), each rendered for a sample lead when the file is checked."""

    subject: str = Field(min_length=1, max_length=500)
    html: str = Field(min_length=1, max_length=100_000)
    text: str = Field(min_length=1, max_length=100_000)

    @model_validator(mode="after")
    def _renders_for_a_sample_lead(self) -> EmailTemplates:
        from leadflow.nurture.templates import EmailTemplate

        EmailTemplate("", self.subject, self.html, self.text).check()  # TemplateProblem (a ValueError): name, line
        return self


class SequenceStep(EmailTemplates):
    """One email of a sequence, sent `after_days` after the step before it (the first: after the lead entered)."""

    after_days: float = Field(default=0, ge=0, le=365)


# The stages a sequence may take leads from: not ready to buy yet (nurture, where sales' rejects go too), or
# lost (a win-back sequence). Junk never gets a nurture email.
NurtureStage = Literal["nurture", "lost"]


class NurtureSequence(_Strict):
    """Leads in one of `stages` for which every condition holds (and whose score is within `score_between`)
    get its steps, in order; a lead leaves when its stage is none of them any more (sales-ready, assigned),
    when it unsubscribes, bounces or complains, or after `max_steps`."""

    name: str = Field(pattern=_SLUG)
    stages: list[NurtureStage] = Field(default_factory=lambda: list[NurtureStage](["nurture"]), min_length=1)
    score_between: tuple[float, float] | None = None
    when: list[RoutingCondition] = Field(default_factory=list)  # facts as routing rules test them; none: every lead
    steps: list[SequenceStep] = Field(min_length=1, max_length=50)
    max_steps: int | None = Field(default=None, ge=1, le=50)

    @model_validator(mode="after")
    def _band_in_order(self) -> NurtureSequence:
        if self.score_between is not None and self.score_between[0] > self.score_between[1]:
            raise ValueError(f"sequence {self.name!r}: score_between = [min, max] needs min <= max")
        return self


class SendWindowSettings(_Strict):
    """When nurture emails go out, in each lead's own time zone: hours of the day, days of the week."""

    hours: str = Field(default="09:00-17:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK), min_length=1)

    @model_validator(mode="after")
    def _opens_before_it_closes(self) -> SendWindowSettings:
        start, end = self.hours.split("-")
        if start >= end:
            raise ValueError(f"hours = {self.hours!r}: the window must open before it closes, within one day")
        return self


class FrequencyCapSettings(_Strict):
    """At most `most` nurture emails to one lead in any `days` days, across every sequence."""

    most: int = Field(default=2, ge=1, le=50)
    days: int = Field(default=7, ge=1, le=90)


class NurtureSettings(_Strict):
    """Email sequences for leads not ready to buy, and the acknowledgement an inquiry's type promises."""

    # A lead whose country (or phone) says nothing of its time zone is sent to in this one.
    default_timezone: str = "UTC"
    send_window: SendWindowSettings = SendWindowSettings()
    frequency_cap: FrequencyCapSettings = FrequencyCapSettings()
    # Sends per second for this client: keep it under the account's SES sending rate (shared by its stacks).
    send_rate_per_second: float = Field(default=10, gt=0, le=500)
    # How often the sweep looks for due emails: a step goes out at most this long after its time.
    sweep_every_minutes: int = Field(default=5, ge=1, le=60)
    sequences: list[NurtureSequence] = Field(default_factory=list)
    # By inquiry type: the email that fulfils what the form promised (a guide, a price list), sent within a minute.
    acknowledgements: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")], EmailTemplates] = Field(
        default_factory=dict
    )
    # Where the mailto of List-Unsubscribe goes (Apple Mail's unsubscribe banner sends an email to it, with the
    # link's token in the subject): unsubscribe-<client>[-<stage>]@ this domain, which SES receives mail for in
    # the client's region (its MX record names one region). One domain serves every client of an AWS account in
    # that region; see "Unsubscribe by email" in the README to set it up once. A client with sequences needs
    # it: an unsubscribe sent to an address nobody reads would be lost.
    unsubscribe_mail_domain: str | None = Field(default=None, max_length=190, pattern=_DOMAIN_NAME)
    # The account's active SES receipt rule set (one per region is active), where the stack adds its rule.
    receipt_rule_set: str = Field(default="leadflow", pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")

    @model_validator(mode="after")
    def _zone_exists_and_names_unique(self) -> NurtureSettings:
        from leadflow.route.calendar import zone_named

        zone_named(self.default_timezone)
        names = [sequence.name for sequence in self.sequences]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"sequence names must be unique: {', '.join(repeated)}")
        return self

    @model_validator(mode="after")
    def _sequences_have_an_unsubscribe_mailbox(self) -> NurtureSettings:
        if self.sequences and self.unsubscribe_mail_domain is None:
            raise ValueError(
                "unsubscribe_mail_domain is missing: every nurture email offers unsubscribing by email, and that "
                "email must reach the stack. Set it to a domain whose MX record points to SES's inbound endpoint "
                '(see "Unsubscribe by email" in the README), or remove the sequences'
            )
        return self


class WebsiteSettings(_Strict):
    """What `leadflow client snippet` puts in the form a web developer pastes."""

    consent_text: str = Field(
        default="Yes, send me news and offers by email. I can unsubscribe at any time.", min_length=10, max_length=500
    )
    inquiry_type: str = Field(default="contact", pattern=r"^[a-z][a-z0-9_]{0,39}$")
    submit_label: str = Field(default="Send", min_length=1, max_length=40)


class ReportSettings(_Strict):
    """The weekly report (leadflow.report.weekly): when it goes out, to whom, and how long its CSVs are kept."""

    # Who gets the week's funnel by email, with its CSV attached. None: the CSV is only kept in the stack's bucket.
    recipients: list[Annotated[str, Field(pattern=_EMAIL)]] = Field(default_factory=list, max_length=50)
    # When, as EventBridge Scheduler's cron (minutes hours day-of-month month day-of-week year), in `timezone`.
    weekly: str = "cron(0 8 ? * MON *)"
    timezone: str = "UTC"
    # The weekly CSVs in the stack's reports bucket are deleted this many days after they were written.
    keep_days: int = Field(default=400, ge=7, le=3650)

    @field_validator("weekly")
    @classmethod
    def _cron_runs(cls, value: str) -> str:
        from leadflow.cron import parse

        return parse(value).expression  # stripped: what EventBridge Scheduler is given

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        from leadflow.route.calendar import zone_named

        zone_named(value)
        return value


class Monitoring(_Strict):
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    log_retention_days: int = Field(default=30)
    # The client's CloudWatch dashboard (leads, queues, functions, the API): 3 USD a month; an account's first
    # three dashboards are free. false: none.
    dashboard: bool = True

    @model_validator(mode="after")
    def _retention_is_offered(self) -> Monitoring:
        allowed = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
        if self.log_retention_days not in allowed:
            raise ValueError(f"log_retention_days must be one of {', '.join(map(str, allowed))}")
        return self


def _off_or_wafs_minimum(limit: int) -> int:
    if 0 < limit < 10:
        raise ValueError("must be 0 (off) or at least 10, the lowest rate limit AWS WAF takes")
    return limit


class ProtectionSettings(_Strict):
    """Paid protection of the public endpoint, off unless a client's file switches it on."""

    # Requests one caller (IP address) may send in any 5 minutes before AWS WAF blocks it (403).
    # 0: off. On, it costs about 6 USD a month (a web ACL and one rule) + 0.60 USD per million requests.
    rate_limit_per_5_minutes: Annotated[int, AfterValidator(_off_or_wafs_minimum)] = Field(
        default=0, ge=0, le=2_000_000_000
    )


class ClientConfig(_Strict):
    name: str = Field(pattern=CLIENT_NAME.pattern)
    display_name: str | None = None
    aws: AwsTarget = AwsTarget()
    capture: CaptureSettings
    qualify: QualifySettings = QualifySettings()
    route: RouteSettings = RouteSettings()
    follow_up: FollowUpSettings = FollowUpSettings()
    notify: NotifySettings = NotifySettings()
    nurture: NurtureSettings = NurtureSettings()
    website: WebsiteSettings = WebsiteSettings()
    report: ReportSettings = ReportSettings()
    monitoring: Monitoring = Monitoring()
    protection: ProtectionSettings = ProtectionSettings()

    @model_validator(mode="after")
    def _consent_text_fits_the_capture_limit(self) -> ClientConfig:
        if len(self.website.consent_text) > self.capture.max_field_chars:
            raise ValueError(
                f"website.consent_text is {len(self.website.consent_text)} characters but capture.max_field_chars "
                f"is {self.capture.max_field_chars}: every consenting post would be refused; shorten the text or "
                "raise the limit"
            )
        return self

    @property
    def stack_name(self) -> str:
        return f"Leads-{self.name}"


class ConfigError(Exception):
    """A client file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"{path}: {len(problems)} {noun} in the client config"]
        lines += [f"  - {p}" for p in problems]
        lines.append("Fix the file and run the command again (`leadflow client new NAME` writes a commented example).")
        super().__init__("\n".join(lines))


def load_client_config(path: str | Path) -> ClientConfig:
    """Read and check one client file; raise ConfigError naming every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["the file does not exist"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    try:
        config = ClientConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(error, text, data) for error in exc.errors()]) from None
    if config.name != path.stem and path.suffix == ".toml":
        line = _line_of(text, ("name",))
        raise ConfigError(
            path,
            [
                f"{line}name = {config.name!r}: must match the file name ({path.stem!r}), so that "
                f"`-c client={path.stem}` deploys stack Leads-{path.stem}"
            ],
        )
    return config


def _describe(error: Any, text: str, data: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    where = _dotted(loc) or "(top level)"
    line = _line_of(text, loc)
    message = error["msg"].removeprefix("Value error, ")
    rule = _rule_name(data, loc)
    if rule and f"rule {rule!r}" not in message:
        message = f"rule {rule!r}: {message}"
    if error["type"] == "missing":
        return f"{line}{where}: {message if rule else 'is required'} but missing".replace(
            "Field required but", "is required but"
        )
    if error["type"] == "extra_forbidden":
        prefix = f"rule {rule!r}: " if rule else ""
        return f"{line}{where}: {prefix}is not a known setting (check the spelling; see `leadflow client new`)"
    if error["type"] == "string_pattern_mismatch":
        message = f"{message} (for example {_example(loc)})" if _example(loc) else message
    if isinstance(error.get("input"), dict):  # a whole table is at fault: the message names it
        return f"{line}{where}: {message}"
    return f"{line}{where} = {error.get('input')!r}: {message}"


def _rule_name(data: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    """The name of the scoring rule a problem is in, when it is in one."""
    rule_lists = {("qualify", "fit"), ("qualify", "negative"), ("route", "rules")}
    if len(loc) < 3 or (loc[0], loc[1]) not in rule_lists or not isinstance(loc[2], int):
        return None
    try:
        name = data[loc[0]][loc[1]][loc[2]].get("name")
    except (KeyError, IndexError, AttributeError, TypeError):
        return None
    return str(name) if name else f"#{loc[2] + 1}"


def _example(loc: tuple[Any, ...]) -> str | None:
    examples = {"name": "'acme-eu'", "account": "'123456789012'", "region": "'eu-west-1'"}
    return examples.get(str(loc[-1])) if loc else None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


ARRAYS_OF_TABLES = (
    "qualify.fit", "qualify.negative", "route.rules", "route.rules.when", "notify.webhooks",
    "nurture.sequences", "nurture.sequences.when", "nurture.sequences.steps",
)  # fmt: skip


def _line_of(text: str, loc: tuple[Any, ...]) -> str:
    """Best effort 'line N, ' for what a problem is about: TOML parsers keep no positions.

    Follows [table] and [[array.of.tables]] headers, counting each array's entries (an inner
    array's afresh in each entry of the outer one), so a problem in the second step of the
    first [[nurture.sequences]] points into that step.
    """
    names: list[str] = []
    arrays: list[tuple[str, int]] = []  # each [[array]] entry the problem is inside: (array, index)
    whole_entry = False  # the problem is about an [[array]] entry as a whole (its header's line)
    for part in loc:
        whole_entry = isinstance(part, int) and ".".join(names) in ARRAYS_OF_TABLES
        if whole_entry:
            arrays.append((".".join(names), int(part)))
        elif not isinstance(part, int):
            names.append(str(part))
    if whole_entry:
        section, key = arrays[-1][0], None
    elif names:
        section, key = ".".join(names[:-1]), names[-1]
    else:
        return ""
    current, entries = "", dict[str, int]()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\[([^\[\]]+)\]\]", line) or re.match(r"^\[([^\[\]]+)\]", line)
        inside = all(entries.get(array) == index for array, index in arrays)
        if header:
            current = header.group(1).strip()
            if line.startswith("[["):
                entries[current] = entries.get(current, -1) + 1
                for inner in [name for name in entries if name.startswith(current + ".")]:
                    del entries[inner]  # a new outer entry: its inner arrays count from the start again
            inside = all(entries.get(array) == index for array, index in arrays)
            if key is None and current == section and inside:
                return f"line {number}, "
            continue
        if key is not None and current == section and inside and re.match(rf"^{re.escape(key)}\s*=", line):
            return f"line {number}, "
    return ""


def config_snapshot(config: ClientConfig) -> str:
    """The checked config with every default filled in: the JSON the functions read.

    Synth (and `leadflow local`) write it once; functions read it at cold start without
    paying for pydantic's model build where latency matters (see leadflow.settings).
    """
    return config.model_dump_json(indent=2)


def find_client_files(clients_dir: Path) -> list[Path]:
    return sorted(p for p in clients_dir.glob("*.toml") if not p.name.startswith("_"))
