"""The API reps, managers and ops sign in to: their leads, their team's queue, follow-up, away.

Every route but `GET /openapi.json` sits behind API Gateway's Cognito authorizer, which has
checked the caller's ID token before this code runs and passes its claims on
(`requestContext.authorizer.claims`): who signed in (`cognito:username`, their email) and their groups
(`cognito:groups`). Who may see and change what is `leadflow.follow_up.changes.Actor`'s rule:

- a rep sees and changes their own leads, sees their teams' queues and claims from them;
- a manager sees and changes their teams' leads (the teams whose `manager` the client file
  names them) and sets their reps' availability;
- ops sees and changes every lead and every rep.

A lead the caller may not see is answered exactly like a lead that does not exist: 404.
Bodies and parameters are checked by Powertools' resolver against the pydantic models below;
a bad one is a 400 naming each field and its problem. An invalid stage move is a 409 naming
both stages; a claim somebody else won is a 409 saying who.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, SecurityScheme
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadflow.aws.roster import UnknownRep
from leadflow.config import ClientConfig
from leadflow.follow_up.changes import (
    ACTIONS,
    Actor,
    ClaimRefused,
    FollowUp,
    FollowUpError,
    NotTheOwner,
    NotYourLead,
    check_follow_up,
    claim_lead,
    follow_up_lead,
)
from leadflow.lead.change import Applied, Conflict
from leadflow.lead.lifecycle import InvalidTransition
from leadflow.lead.profile import utc_stamp
from leadflow.route.assignment import DEFAULT_QUEUE
from leadflow.route.roster import Rep
from leadflow.settings import client_config
from leadflow.wiring import lead_services, leads_table, roster

TITLE = "leadflow API"
VERSION = "1"
SECURITY: list[dict[str, list[str]]] = [{"cognito": []}]
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "cognito": APIKey.model_validate(
        {
            "name": "Authorization",
            "in": APIKeyIn.header,
            "description": "An ID token of the stack's Cognito user pool (its value alone, no 'Bearer'): "
            "`leadflow token EMAIL` prints one.",
        }
    )
}
MAX_LIST = 1000

app = APIGatewayRestResolver(enable_validation=True)


# --- who is asking ---------------------------------------------------------------------------


class Forbidden(Exception):
    """Signed in, but the action is not for the caller's role (403)."""


@dataclass(frozen=True)
class Caller:
    email: str
    groups: frozenset[str]
    actor: Actor
    rep: Rep | None


def groups_of(claims: dict[str, Any]) -> frozenset[str]:
    """`cognito:groups` as API Gateway passes it: "rep,manager" (or "[rep manager]"); a list is taken too."""
    value = claims.get("cognito:groups") or ""
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    return frozenset(part for part in str(value).strip("[]").replace(",", " ").split() if part)


def caller() -> Caller:
    """The signed-in person, from the authorizer's claims: ops, a manager of teams, or a rep on the roster."""
    claims = app.current_event.request_context.authorizer.claims or {}
    # The username is the person's email as ops added it (`leadflow reps add`, `leadflow users add`): unlike the
    # email attribute, nobody can change it for themselves.
    email = str(claims.get("cognito:username") or "").lower()
    groups = groups_of(claims)
    if not email:
        raise Forbidden("the token names nobody: sign in again")
    config = client_config()
    if "ops" in groups:
        return Caller(email, groups, Actor("ops", name=email), None)
    if "manager" in groups:
        teams = tuple(name for name, team in config.route.teams.items() if (team.manager or "").lower() == email)
        return Caller(email, groups, Actor("manager", name=email, teams=teams), None)
    if "rep" in groups:
        rep = next((r for r in roster().list_reps() if r.email.lower() == email), None)
        if rep is None:
            raise Forbidden("you are not on the roster (any more): ask ops to add you with `leadflow reps add`")
        return Caller(email, groups, Actor("rep", rep_id=rep.rep_id, name=rep.name, teams=rep.teams), rep)
    raise Forbidden("you are in none of the groups rep, manager or ops: ask ops to add you to one")


# --- bodies and answers -----------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AwayBody(Strict):
    until: datetime | None = Field(
        description="When you are back: a date and time (in your time zone when it has no offset), "
        "or a date (the start of that day); null: back now."
    )


class FollowUpBody(Strict):
    action: Literal[ACTIONS] = Field(description="What happened")  # type: ignore[valid-type]
    reason: str | None = Field(default=None, max_length=100, description="reject, lost, junk: one of the client's")
    amount: Decimal | None = Field(default=None, description="won: the deal's amount, like 12500.00")
    currency: str | None = Field(default=None, max_length=3, description="won: ISO 4217, one of the client's")
    note: str | None = Field(default=None, max_length=2000, description="what to remember; for 'note', required")


class RepChanges(Strict):
    """What a manager or ops may set on a rep; only `away_until` may be null (back now)."""

    active: bool | None = None
    away_until: datetime | None = None
    capacity: int | None = Field(default=None, ge=0, le=1000)
    weight: float | None = Field(default=None, gt=0, le=100)

    @field_validator("active", "capacity", "weight", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: leave it out to keep it as it is")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> RepChanges:
        if not self.model_fields_set:
            raise ValueError("names nothing to change: give active, away_until, capacity or weight")
        return self


class WorkItem(BaseModel):
    """A lead in a work list: who it is, where it stands, whose it is, by when it must be accepted."""

    lead_id: str
    stage: str
    team: str
    owner: str | None = None
    owner_name: str | None = None
    queue: str | None = None
    name: str | None = None
    company: str | None = None
    score: float | None = None
    priority: str | None = None
    assigned_at: str | None = None
    due_at: str | None = None
    updated_at: str | None = None


class WorkList(BaseModel):
    leads: list[WorkItem]


class RepView(BaseModel):
    rep_id: str
    name: str
    email: str
    teams: list[str]
    territories: list[str]
    weight: float
    capacity: int
    open_leads: int
    timezone: str | None
    active: bool
    away_until: str | None


class Me(BaseModel):
    email: str
    role: Literal["rep", "manager", "ops"]
    teams: list[str]
    rep: RepView | None


class Changed(BaseModel):
    result: Literal["changed", "unchanged"]
    lead_id: str
    stage: str
    owner: str | None = None


def rep_view(rep: Rep) -> RepView:
    data = rep.as_dict()
    return RepView(**{name: data[name] for name in RepView.model_fields})


LEAD_ID = re.compile(r"^ld_[a-z2-7]{24}$")
REP_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LONGEST_AWAY = timedelta(days=366)


def _checked_lead_id(lead_id: str) -> str:
    """A path's lead id; anything that cannot be one is a lead nobody can see (404), never a store error."""
    if not LEAD_ID.match(lead_id):
        raise NotYourLead(lead_id)
    return lead_id


# --- routes -----------------------------------------------------------------------------------


@app.get("/openapi.json", include_in_schema=False)
def openapi_document():  # no return annotation: the resolver would model it in the document
    return Response(200, content_types.APPLICATION_JSON, openapi_json())


@app.get("/me", security=SECURITY, summary="Who you are signed in as, your role and teams")
def me() -> Me:
    who = caller()
    return Me(
        email=who.email,
        role=who.actor.role,
        teams=list(who.actor.teams if who.actor.role != "ops" else client_config().route.teams),
        rep=rep_view(who.rep) if who.rep else None,
    )


@app.put("/me/away", security=SECURITY, summary="Mark yourself away until a date (no new leads), or back")
def set_away(body: AwayBody) -> RepView:
    who = caller()
    if who.rep is None:
        raise Forbidden("only a rep is away or back: a manager sets a rep's with PATCH /reps/{rep_id}")
    return rep_view(_update_rep(who.rep, {"away_until": body.until}, field="until"))


@app.get("/leads", security=SECURITY, summary="The open leads you work: a rep's own, a manager's teams', all for ops")
def list_leads(
    team: Annotated[str | None, Query(description="Only this team's leads")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200,
) -> WorkList:
    who = caller()
    config = client_config()
    table = leads_table()
    if team is not None and team not in _teams_listed(who, config):
        raise NotYourLead(team)
    teams = [team] if team else list(_teams_listed(who, config))
    found: list[dict[str, Any]] = []
    for name in teams:
        found += table.work_list(name, owner=who.actor.rep_id if who.actor.role == "rep" else None, most=limit)
    found.sort(key=lambda link: (link.get("due_at") or "~", link["lead_id"]))
    return WorkList(leads=[WorkItem(**link) for link in found[:limit]])


@app.get("/teams/<team>/queue", security=SECURITY, summary="The leads waiting in a team's queue, most urgent first")
def team_queue(team: str, limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200) -> WorkList:
    who = caller()
    if team not in _queues_seen(who, client_config()):
        raise NotYourLead(team)
    links = leads_table().work_list(team, queued=True, most=limit)
    return WorkList(leads=[WorkItem(**link) for link in links])


@app.get("/leads/<lead_id>", security=SECURITY, summary="A lead: its profile, the routing decision, its timeline")
def get_lead(lead_id: str) -> dict[str, Any]:
    who = caller()
    lead = leads_table().get_lead(_checked_lead_id(lead_id))
    if lead is None or not who.actor.may_see(lead.profile):
        raise NotYourLead(lead_id)
    shown = {key: value for key, value in lead.profile.items() if key != "report"}  # the report's bookkeeping
    return {"lead": shown, "decision": lead.profile.get("routing"), "timeline": lead.timeline}


@app.post("/leads/<lead_id>/claim", security=SECURITY, summary="Take a lead from your team's queue (409: too late)")
def claim(lead_id: str) -> Changed:
    who = caller()
    if who.rep is None:
        raise Forbidden("only a rep claims a lead from a queue")
    applied = claim_lead(
        _checked_lead_id(lead_id), who.rep.rep_id, roster(), lead_services(), client_config(), datetime.now(UTC)
    )
    return _changed(lead_id, applied)


@app.post("/leads/<lead_id>/follow-up", security=SECURITY, summary="Accept, reject, record progress, win or lose")
def follow_up(lead_id: str, body: Annotated[FollowUpBody, Body()]) -> Changed:
    who = caller()
    config = client_config()
    wanted = FollowUp(
        body.action,
        reason=body.reason,
        amount=str(body.amount) if body.amount is not None else None,
        currency=body.currency,
        note=body.note,
    )
    checked = check_follow_up(wanted, config)
    applied = follow_up_lead(_checked_lead_id(lead_id), checked, who.actor, lead_services(), config, datetime.now(UTC))
    return _changed(lead_id, applied)


@app.get("/reps", security=SECURITY, summary="The reps of your teams (a manager) or of the client (ops)")
def list_reps() -> list[RepView]:
    who = caller()
    if who.actor.role == "rep":
        raise Forbidden("a rep sees their own settings at GET /me")
    return [rep_view(rep) for rep in roster().list_reps() if _manages(who, rep)]


@app.patch("/reps/<rep_id>", security=SECURITY, summary="Set a rep's availability, capacity or weight")
def change_rep(rep_id: str, body: RepChanges) -> RepView:
    who = caller()
    if who.actor.role == "rep":
        raise Forbidden("a rep marks themselves away with PUT /me/away; the rest is their manager's")
    rep = roster().get_rep(rep_id) if REP_ID.match(rep_id) else None
    if rep is None or not _manages(who, rep):
        raise NotYourLead(rep_id)
    return rep_view(_update_rep(rep, body.model_dump(exclude_unset=True), field="away_until"))


# --- reports ------------------------------------------------------------------------------------

GroupBy = Literal["source", "medium", "campaign", "inquiry_type", "owner"]
FORMATS = {"application/json": "json", "text/csv": "csv", "text/html": "html"}
VARY = {"Vary": "Accept"}  # one URL, three answers: a cache keeps them apart


@app.get(
    "/reports/funnel",
    security=SECURITY,
    summary="The funnel of the leads captured from one day to another, by source, medium, campaign, inquiry type or "
    "owner: stages, conversion, revenue, speed-to-lead and the accept deadline. JSON; CSV with Accept: text/csv; "
    "a page with charts with Accept: text/html. A manager sees every source, campaign and inquiry type, and the "
    "owners of their own teams",
)
def report_funnel(
    first: Annotated[
        date | None,
        Query(alias="from", description="The first capture day, like 2026-10-01 (UTC); default: 29 days before `to`"),
    ] = None,
    last: Annotated[date | None, Query(alias="to", description="The last capture day; default: today (UTC)")] = None,
    group_by: Annotated[GroupBy, Query(description="What each row is")] = "source",
) -> Response[Any]:
    from leadflow.report.funnel import as_csv, as_json, funnel, only_values

    who = _reader()
    first_day, last_day = _report_days(first, last)
    report = funnel(leads_table().report_items(group_by, first_day, last_day), group_by, first_day, last_day)
    everyone = report.total  # the rule table's base rate: every closed lead, as its rules' rows count them
    names: dict[str, str] = {}
    if group_by == "owner":
        reps = roster().list_reps()
        if who.actor.role == "manager":  # their teams' reps only, as GET /reps lists them
            reps = [rep for rep in reps if set(rep.teams) & set(who.actor.teams)]
            report = only_values(report, [rep.rep_id for rep in reps])
        names = {rep.rep_id: rep.name for rep in reps}
    wanted = _wanted(app.current_event.headers)
    if wanted == "html":
        from leadflow.report.funnel import rule_table
        from leadflow.report.page import PAGE_HEADERS, funnel_page

        rules = rule_table(leads_table().report_items("rule", first_day, last_day), everyone)
        page = funnel_page(
            report, names, rules, title=f"{client_config().display_name or client_config().name}: lead funnel"
        )
        return Response(200, PAGE_HEADERS["Content-Type"], page, headers={**PAGE_HEADERS, **VARY})
    if wanted == "csv":
        name = f"leadflow-funnel-{group_by}-{first_day}-{last_day}.csv"
        return Response(200, "text/csv; charset=utf-8", as_csv(report, names),
                        headers={"Content-Disposition": f'attachment; filename="{name}"', **VARY})  # fmt: skip
    return Response(200, content_types.APPLICATION_JSON, as_json(report, names), headers=VARY)


@app.get(
    "/reports/rules",
    security=SECURITY,
    summary="Which scoring rules predict revenue: the win rate of the closed leads each rule fired for, beside the "
    "base rate of all closed leads, with the counts behind them (leads captured from one day to another)",
)
def report_rules(
    first: Annotated[
        date | None, Query(alias="from", description="The first capture day (UTC); default: 29 days before `to`")
    ] = None,
    last: Annotated[date | None, Query(alias="to", description="The last capture day; default: today (UTC)")] = None,
) -> Response[dict[str, Any]]:
    from leadflow.report.funnel import funnel, rule_table

    _reader()
    first_day, last_day = _report_days(first, last)
    table = leads_table()
    total = funnel(table.report_items("source", first_day, last_day), "source", first_day, last_day).total
    rules = rule_table(table.report_items("rule", first_day, last_day), total)
    return Response(200, content_types.APPLICATION_JSON, {"from": first_day, "to": last_day, **rules})


def _reader() -> Caller:
    who = caller()
    if who.actor.role == "rep":
        raise Forbidden("reports are for managers and ops: ask your manager for the figures")
    return who


def _report_days(first: date | None, last: date | None) -> tuple[str, str]:
    """The report's first and last capture day (yyyy-mm-dd); FollowUpError (400) naming the parameter at fault."""
    from leadflow.report.funnel import SpanError, report_span

    try:
        return report_span(first, last, datetime.now(UTC).date())
    except SpanError as error:
        raise FollowUpError(error.field, error.problem) from None


def _wanted(headers: dict[str, str] | None) -> str:
    """The answer's format from the Accept header: the supported type of the highest q (JSON when none is)."""
    accept = next((value for key, value in (headers or {}).items() if key.lower() == "accept"), "") or ""
    best, best_q = "json", 0.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        chosen = FORMATS.get(media.strip().lower())
        if chosen is not None and q > best_q:
            best, best_q = chosen, q
    return best


# --- answers to what went wrong -----------------------------------------------------------------


def _message(status: int, message: str, headers: dict[str, str] | None = None, **more: Any) -> Response:
    return Response(status, content_types.APPLICATION_JSON, {"message": message, **more}, headers=headers)


@app.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response:
    problems = []
    for problem in error.errors():
        if problem.get("type") == "json_invalid":
            problems.append({"field": "body", "message": "is not JSON: send a JSON object"})
            continue
        where = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]
        text = str(problem.get("msg") or "is not valid")
        problems.append({"field": ".".join(where) or "body", "message": text[0].lower() + text[1:]})
    return _message(400, "the request has errors: fix each field named", errors=problems)


@app.exception_handler(FollowUpError)
def _bad_value(error: FollowUpError) -> Response:
    return _message(400, "the request has errors: fix each field named", errors=[
        {"field": error.field, "message": error.problem}
    ])  # fmt: skip


@app.exception_handler(NotYourLead)
def _not_found(error: NotYourLead) -> Response:
    return _message(404, "not found: no such lead, team or rep among those you can see")


@app.exception_handler(UnknownRep)
def _unknown_rep(error: UnknownRep) -> Response:
    return _not_found(NotYourLead(str(error)))


@app.exception_handler([Forbidden, NotTheOwner])
def _forbidden(error: Exception) -> Response:
    return _message(403, str(error))


@app.exception_handler(InvalidTransition)
def _conflict(error: InvalidTransition) -> Response:
    return _message(409, str(error), stage=error.current, wanted=error.target)


@app.exception_handler(Conflict)
def _busy(error: Conflict) -> Response:
    busy = "the lead changed again and again while this was written: try again in a moment"
    return _message(503, busy, headers={"Retry-After": "1"})


@app.exception_handler(ClaimRefused)
def _claim_refused(error: ClaimRefused) -> Response:
    return _message(409, f"not claimed: {error}")


# --- helpers ----------------------------------------------------------------------------------


ERROR_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "description": "what went wrong, and what to do next"},
        "errors": {
            "type": "array",
            "description": "400: each field with its problem",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
ERRORS = {
    "400": "A parameter or the body has errors: each field is named with its problem",
    "401": "No valid ID token (missing, altered, expired): sign in again (API Gateway's answer)",
    "403": "Signed in, but this is not for your role (the message says whose it is)",
    "404": "No such lead, team or rep among those you can see",
    "409": "The lead has moved on: an invalid stage move (both stages named) or a claim somebody else won",
}


def openapi_json() -> str:
    """The API's OpenAPI document (committed as docs/openapi.json; a test holds the two the same).

    Powertools documents a 422 for bad requests; this API answers them 400 with the fields named,
    so the document says that, and lists the other errors each operation can answer.
    """
    document = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description="Reps, managers and ops: leads, queues, claims, follow-up, availability and reports. "
            "Every operation needs an ID token of the stack's user pool in the Authorization header.",
            security_schemes=SECURITY_SCHEMES,
        )
    )
    schemas = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            answers.pop("422", None)
            codes = ["400", "401", "403"]
            codes += ["404"] if "{" in path or path == "/leads" else []
            codes += ["409"] if method == "post" else []
            for code in codes:
                answers[code] = {
                    "description": ERRORS[code],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _teams_listed(who: Caller, config: ClientConfig) -> tuple[str, ...]:
    """The teams whose work links GET /leads reads: a rep's own leads may be in any team they were given them in."""
    if who.actor.role == "ops":
        return (*config.route.teams, DEFAULT_QUEUE)
    if who.actor.role == "manager":
        return who.actor.teams
    return tuple(config.route.teams)


def _queues_seen(who: Caller, config: ClientConfig) -> tuple[str, ...]:
    """The queues the caller sees: a rep's and a manager's teams', every queue for ops (the unrouted ones too)."""
    return (*config.route.teams, DEFAULT_QUEUE) if who.actor.role == "ops" else who.actor.teams


def _manages(who: Caller, rep: Rep) -> bool:
    return who.actor.role == "ops" or bool(set(rep.teams) & set(who.actor.teams))


def _update_rep(rep: Rep, changes: dict[str, Any], field: str) -> Rep:
    """Write a rep's new settings; an away time without an offset is read in the rep's own time zone."""
    if changes.get("away_until") is not None:
        moment: datetime = changes["away_until"]
        if moment.tzinfo is None:
            teams = client_config().route.teams
            team = next((teams[name] for name in rep.teams if name in teams), None)
            moment = moment.replace(tzinfo=ZoneInfo(rep.timezone or (team.calendar.timezone if team else "UTC")))
        now = datetime.now(UTC)
        too_far = "is more than a year ahead: for longer, a manager sets the rep inactive"
        try:
            if moment <= now:
                raise FollowUpError(field, "is in the past: give when you are back, or null if you are back now")
            if moment > now + LONGEST_AWAY:
                raise FollowUpError(field, too_far)
            changes["away_until"] = utc_stamp(moment)
        except OverflowError:  # a year near 9999 in a zone west of UTC
            raise FollowUpError(field, too_far) from None
    return roster().update_rep(rep.rep_id, changes)


def _changed(lead_id: str, applied: Applied) -> Changed:
    """What the lead is now: after the change, or as it was when nothing needed changing (a retry)."""
    profile = applied.change.profile if applied.change else applied.before or {}
    result: Literal["changed", "unchanged"] = "changed" if applied.change else "unchanged"
    return Changed(result=result, lead_id=lead_id, stage=profile.get("stage", ""), owner=profile.get("owner"))
