"""The `leadflow` command: run the stack locally (and play SES's bounces there), look at and requalify leads,
manage reps and who signs in, start a client's config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from leadflow.cli.lead_commands import leads_app
from leadflow.cli.local_commands import local_app
from leadflow.cli.outbox_command import outbox
from leadflow.cli.rep_commands import reps_app
from leadflow.cli.report_commands import report_app
from leadflow.cli.rescore import rescore
from leadflow.cli.stack_access import DEFAULT_CLIENT, DEFAULT_CLIENTS_DIR, ClientOption, ClientsDir, console, errors
from leadflow.cli.user_commands import token, users_app
from leadflow.cli.webhook_commands import webhooks_app
from leadflow.config import CLIENT_NAME, ClientConfig, ConfigError, load_client_config

app = typer.Typer(help="leadflow: open lead management on AWS.", no_args_is_help=True, add_completion=False)
client_app = typer.Typer(help="Client config files (clients/NAME.toml).", no_args_is_help=True)
app.add_typer(local_app, name="local")
app.add_typer(leads_app, name="leads")
app.add_typer(reps_app, name="reps")
app.add_typer(report_app, name="report")
app.add_typer(users_app, name="users")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(client_app, name="client")


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        print(exc, file=sys.stderr)  # plain, unwrapped: the lines name file, line and setting
        sys.exit(2)


app.command("rescore")(rescore)
app.command("token")(token)
app.command("outbox")(outbox)


@app.command()
def seed(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    leads: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many synthetic leads to add.")] = 100_000,
    first: Annotated[int, typer.Option(min=0, help="Number of the first synthetic lead (to add more later).")] = 0,
    state_dir: Annotated[Path, typer.Option(help="The local stack's state folder.")] = Path(".leadflow/state"),
) -> None:
    """Add synthetic leads to the local stack's data (stop `make run` first; it loads them at its next start).

    Each lead is planned by the same rules as a real inquiry (scored, staged, counted) and
    written straight into STATE_DIR/CLIENT.sqlite: 100,000 leads take about a minute.
    """
    from rich.progress import Progress

    from leadflow.definition import build_definition
    from leadflow.lead.ids import LeadIds
    from leadflow.local.runtime import LocalOptions
    from leadflow.local.seed import seed_state_file

    config = load_client_config(clients_dir / f"{client}.toml")
    ids = LeadIds(config.name, LocalOptions(clients_dir / f"{client}.toml", state_dir=state_dir).lead_id_key().encode())
    state_file = state_dir / f"{config.name}.sqlite"
    if Path(str(state_file) + "-wal").exists() and Path(str(state_file) + "-wal").stat().st_size:
        errors.print(f"{state_file} is in use: stop `leadflow local` (make run) first, then seed, then start it again.")
        raise typer.Exit(1)
    table = build_definition(config).table("leads").name
    added, batch = 0, 10_000
    with Progress(console=console) as progress:
        task = progress.add_task(f"Seeding {leads:,} leads into {state_file}", total=leads)
        for start in range(first, first + leads, batch):
            size = min(batch, first + leads - start)
            added += seed_state_file(state_file, config, ids, table, size, start)
            progress.advance(task, size)
    kept = f"; {leads - added:,} were there already and were left as they were" if added < leads else ""
    console.print(f"Added {added:,} leads to {state_file}{kept}. Start the stack: make run", markup=False)


@client_app.command("snippet")
def client_snippet(
    name: Annotated[str, typer.Argument(help="Client name: clients/NAME.toml.")],
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    api_url: Annotated[
        str | None, typer.Option(help="The stack's API URL (its ApiUrl output). Looked up when left out.")
    ] = None,
    use_local: Annotated[bool, typer.Option("--local", help="For the stack `make run` serves.")] = False,
    api_port: Annotated[int, typer.Option(help="With --local: the local API's port.")] = 3000,
) -> None:
    """Print the HTML form (and script tag) a web developer pastes into the client's website."""
    from leadflow.snippet import form_snippet

    config = load_client_config(clients_dir / f"{name}.toml")
    if api_url is None:
        api_url = f"http://127.0.0.1:{api_port}/" if use_local else _deployed_api_url(config)
    print(form_snippet(config, api_url))


def _deployed_api_url(config: ClientConfig) -> str:
    """The ApiUrl output of the client's deployed stack, read with the user's AWS credentials."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        cloudformation = boto3.Session(region_name=config.aws.region).client("cloudformation")
        [stack] = cloudformation.describe_stacks(StackName=config.stack_name)["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        errors.print(
            f"Could not read stack {config.stack_name}'s API URL ({exc}). Deploy it with "
            f"`make deploy CLIENT={config.name}`, check your AWS credentials, or pass --api-url."
        )
        raise typer.Exit(1) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return outputs["ApiUrl"]


@client_app.command("new")
def client_new(
    name: Annotated[str, typer.Argument(help="Client name: lower-case letters, digits and -, like acme-eu.")],
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
) -> None:
    """Write clients/NAME.toml, a commented config to start from."""
    if not CLIENT_NAME.match(name):
        errors.print(
            f"{name!r} cannot be a client name: use 3 to 32 lower-case letters, digits and -, starting with a letter."
        )
        raise typer.Exit(2)
    path = clients_dir / f"{name}.toml"
    if path.exists():
        errors.print(f"{path} exists already; edit it, or pick another name.")
        raise typer.Exit(1)
    clients_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(CLIENT_TEMPLATE.format(name=name), encoding="utf-8")
    load_client_config(path)  # the template must always be a valid config
    console.print(
        f"Wrote {path}. Edit the origins and URLs, then `make synth CLIENT={name}` and `make deploy CLIENT={name}`."
    )


CLIENT_TEMPLATE = """\
# leadflow client config. One file per client; the stack is Leads-{name}.
# Checked at synth, at `make run` and when a function starts: a mistake names the line.

# Must match the file name: lower-case letters, digits and -.
name = "{name}"
# How people and reports name the client.
display_name = "{name}"

# Where the stack deploys. Leave out to use your AWS profile's account and region.
[aws]
# account = "123456789012"
# region = "eu-west-1"

[capture]
# Websites allowed to post from a browser: scheme://host[:port], no path.
allowed_origins = ["https://www.example.com"]
# Where a plain HTML form sends the visitor after a good post.
thank_you_url = "https://www.example.com/thank-you"
# ...and after a bad one (the failing fields are added to the query). Leave out for a plain error page.
error_url = "https://www.example.com/contact?error=1"
# A hidden form field that people never fill in and bots do: such posts are answered
# as a success and stored nowhere.
honeypot_field = "website"
# Largest body accepted, in KB (a bigger one gets 413).
max_body_kb = 32
# Longest value of a single field, and of the message, in characters.
max_field_chars = 500
max_message_chars = 5000
# How many custom.* fields one inquiry may carry (0 to 30).
max_custom_fields = 30
# A form posts leadflow's field names: email, first_name, last_name, company, job_title, phone,
# message, inquiry_type, page_url, referrer, utm_source, utm_medium, utm_campaign, utm_term,
# utm_content, marketing_consent, consent_text, submission_id, and custom.<name> for anything else.
# An existing form (Contact Form 7, Webflow, HubSpot...) keeps its own names: map each to the
# leadflow field it fills. A field that is neither (a submit button, a CSRF token) is not stored;
# the inquiry lists its name, and the lead is captured all the same.
# [capture.field_names]
# "your-email" = "email"
# "your-name" = "first_name"
# "Company Name" = "company"
# "your-message" = "message"
# "fleet" = "custom.fleet_size"

# What a good lead is: who fits the ideal customer profile, who does not, and what they do.
# Each rule tests one fact with exactly one of: equals, in, contains, between = [min, max],
# matches (a regular expression; start with (?i) to ignore case). Facts: email, email_domain,
# email_kind (corporate, free, disposable), email_is_role, first_name, last_name, company,
# job_title, job_seniority (executive, vp, director, manager, individual, student), phone,
# phone_country, phone_valid, inquiry_type, inquiry_count, message, page_url, referrer,
# utm_source, utm_medium, utm_campaign, marketing_consent, and custom.<name> for custom fields.
[qualify]
# Score at which a lead counts as marketing-qualified, and at which it goes to sales.
marketing_qualified = 30
sales_ready = 60
# Inquiry types that go to sales whatever the score: the visitor asked for it.
hand_raise = ["demo_request", "contact_sales"]

[qualify.verification]
# Disposable addresses and test data ("asdf", "Test Test") are junk: kept, never sent to sales.
junk_disposable_email = true
junk_test_data = true
# Region for phone numbers sent without a country code.
default_phone_region = "US"

[qualify.engagement]
# Engagement points fade by half every half_life_days.
half_life_days = 30
repeat_inquiry = 10
email_click = 5

[qualify.engagement.pages]
# A page URL path an inquiry was sent from, and its points.
"/pricing" = 10

[[qualify.fit]]
name = "Company email"
field = "email_kind"
equals = "corporate"
points = 20

[[qualify.fit]]
name = "Decision maker"
field = "job_seniority"
in = ["executive", "vp", "director"]
points = 25

[[qualify.negative]]
name = "Student"
field = "job_seniority"
equals = "student"
points = -40

# [[qualify.negative]]
# name = "Competitor"
# field = "email_domain"
# in = ["competitor.example"]
# disqualify = true

# Who gets a sales-ready lead. Teams and rules live here (reviewed, versioned); the reps live
# in the table and change without a deploy: `leadflow reps add EMAIL --name NAME --team sales`.
[route]
# A lead from a company whose lead (same corporate email domain) is owned and open, or won, in
# this many days goes to that lead's owner when they are available. 0: off.
account_match_days = 180
# The team whose queue takes a lead no rule matches; by default the first team below.
default_team = "sales"
# Phone first: marketing-qualified leads go to this team (inside sales) to be qualified by phone.
# qualification_team = "inside-sales"

[route.teams.sales]
# round_robin, weighted_round_robin (by each rep's weight) or least_loaded (fewest open leads for
# their capacity). Every strategy skips reps who are inactive, away, full or outside their territory.
strategy = "round_robin"
# Told when a lead is not accepted in time (see accept.escalate_to).
manager = "sales-manager@example.com"
# Route only to reps at work now (their own hours, else the team's).
only_at_work = true

[route.teams.sales.calendar]
# Deadlines count working time only: Friday 16:55 plus 30 minutes is Monday 09:25 here.
timezone = "Europe/Berlin"
workdays = ["mon", "tue", "wed", "thu", "fri"]
hours = ["09:00-17:00"]
holidays = ["2026-12-24", "2026-12-25", "2026-12-26", "2027-01-01"]

[route.teams.sales.accept]
# Working minutes the owner has to accept a lead; shorter ones by priority or inquiry type.
minutes = 60
by_inquiry_type = {{ demo_request = 30 }}
# by_priority = {{ high = 15 }}
remind_before_minutes = 15
# Past the deadline: to the next available rep this many times, then escalate
# to the manager ("manager") or back to the team's queue ("queue").
reassign_times = 1
escalate_to = "manager"

# Rules are tried in order; the first whose conditions all hold picks the team (and may set a
# priority, or a segment that only reps covering it get). A condition tests a fact as scoring
# rules do, plus country, source, score, fit and stage.
# [[route.rules]]
# name = "Enterprise"
# team = "enterprise"
# priority = "high"
# [[route.rules.when]]
# field = "score"
# between = [80, 1000]

[follow_up]
# Why a rep may reject a lead, and where each reason sends it: "nurture" or "junk".
reject_reasons = {{ not_a_fit = "junk", not_ready = "nurture", duplicate = "junk", wrong_team = "nurture" }}
lost_reasons = ["no_budget", "no_decision", "competitor", "timing", "no_response", "other"]
currencies = ["EUR", "USD", "GBP"]

# The emails to a lead's owner (with one-tap Accept and Reject links) and to managers.
[notify]
# The sender: verify this address (or its domain) in SES in the stack's account and region.
from_address = "leads@example.com"
from_name = "{name} leads"
# Days a one-tap link in an owner's email works.
link_days = 7
# Webhooks: the client's own systems (a CRM, a chat) told of leads' events as signed JSON POSTs
# (header Leadflow-Signature; `leadflow webhooks key` prints the key receivers verify it with).
# [[notify.webhooks]]
# name = "crm"
# url = "https://crm.example.com/hooks/leadflow"
# events = ["LeadAssigned", "LeadWon", "LeadLost"]

# Nurture: emails to leads not ready to buy yet, each sent in the lead's own working hours (its
# country, else its phone, gives its time zone) and at most `most` in `days` days across every
# sequence; a step the window or the cap holds waits, it is never skipped. Every email carries a
# one-click unsubscribe; unsubscribes, bounces and complaints stop all of a lead's sequences.
# Templates are Jinja2, HTML autoescaped: the lead's fields (first_name, company, ...), link(url)
# for a tracked link (a click raises the score: qualify.engagement.email_click) and unsubscribe_url.
# A template that does not render stops `make synth` with its line. Locally, `leadflow local
# --clock 60x` runs the sends fast and `leadflow outbox` shows what went out.
[nurture]
# For leads whose country and phone say nothing: an IANA time zone.
default_timezone = "UTC"
send_window = {{ hours = "09:00-17:00", weekdays = ["mon", "tue", "wed", "thu", "fri"] }}
frequency_cap = {{ most = 2, days = 7 }}
# Sends per second for this client: keep it under the account's SES sending rate (its stacks share it).
send_rate_per_second = 10
# Apple Mail and other apps unsubscribe by email: to unsubscribe-{name}@ this domain, which SES receives
# mail for (its MX record points to inbound-smtp.REGION.amazonaws.com): see "Unsubscribe by email" in the
# README. One domain serves every client of the AWS account. Needed once the client has a sequence.
unsubscribe_mail_domain = "unsubscribe.example.com"

[[nurture.sequences]]
name = "welcome"
# Who enters: leads in these stages ("nurture": not ready yet, and leads sales sent back as not ready),
# and optionally only those every condition holds for (routing's fields) or a score band.
stages = ["nurture"]
# when = [{{ field = "country", in = ["DE", "AT", "CH"] }}]
# score_between = [0, 49]

[[nurture.sequences.steps]]
after_days = 0
subject = "Thanks for your interest{{% if first_name %}}, {{{{ first_name }}}}{{% endif %}}"
html = '''<p>Hello {{{{ first_name or "there" }}}},</p>
<p>Here is how teams like {{{{ company or "yours" }}}} get started:
<a href="{{{{ link('https://www.example.com/start') }}}}">the guide</a>.</p>
<p><a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a></p>'''
text = '''Hello {{{{ first_name or "there" }}}},
Here is how teams like {{{{ company or "yours" }}}} get started: {{{{ link('https://www.example.com/start') }}}}
Unsubscribe: {{{{ unsubscribe_url }}}}'''

[[nurture.sequences.steps]]
after_days = 3
subject = "How others did it"
html = '''<p>{{{{ first_name or "Hello" }}}}, see how others did it:
<a href="{{{{ link('https://www.example.com/case') }}}}">the case study</a>.</p>
<p><a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a></p>'''
text = '''{{{{ first_name or "Hello" }}}}, see how others did it: {{{{ link('https://www.example.com/case') }}}}
Unsubscribe: {{{{ unsubscribe_url }}}}'''

# What an inquiry's type promises, sent within a minute at any hour (window and cap do not hold it;
# unsubscribes do): a form with inquiry_type = "price_list" would get this at once.
# [nurture.acknowledgements.price_list]
# subject = "Your price list"
# html = '''<p><a href="{{{{ link('https://www.example.com/prices.pdf') }}}}">Download the price list</a></p>'''
# text = '''Download the price list: {{{{ link('https://www.example.com/prices.pdf') }}}}'''

# What `leadflow client snippet {name}` puts in the form for the website.
[website]
consent_text = "Yes, send me news and offers by email. I can unsubscribe at any time."
# The inquiry type the form sends: a hand-raise type (above) makes every lead sales-ready.
inquiry_type = "contact"
submit_label = "Send"

# The weekly report: last week's funnel by source, emailed with its CSV attached; the CSV is also kept in
# the stack's reports bucket for keep_days. `weekly` is EventBridge Scheduler's cron (minutes hours
# day-of-month month day-of-week year; put ? in one of the two day fields) in `timezone`.
[report]
recipients = []   # like ["sales-lead@example.com"]; none: the CSV is only kept
weekly = "cron(0 8 ? * MON *)"   # Mondays at 08:00
timezone = "UTC"   # an IANA name, like Europe/Berlin
keep_days = 400

[monitoring]
# Who hears the alarms: dead-lettered or delayed inquiries, 5xx answers, function errors, throttles.
# alarm_email = "ops@example.com"
# Days to keep function logs: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...
log_retention_days = 30

[protection]
# Requests one caller (IP address) may send to the API in any 5 minutes before AWS WAF blocks
# it; at least 10. 0: off. On, it costs about 6 USD a month (one web ACL, 5 USD, and its rule,
# 1 USD) plus 0.60 USD per million requests; off, stage throttling and the honeypot still hold.
rate_limit_per_5_minutes = 0
"""
