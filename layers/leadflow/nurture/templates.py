"""The nurture emails' templates: Jinja2, sandboxed, autoescaped, header-safe whatever a lead typed.

A marketer writes each step's subject, HTML body and text body in the client file as Jinja2
templates over the lead's fields (`first_name`, `company`, `custom.<name>`, ...) and a few
helpers (`link(url)`, `unsubscribe_url`). They run in Jinja2's sandbox (no attribute of a Python
object beyond plain data, no imports) with autoescaping in the HTML body, so what a person
typed is text in the email, never markup. The subject is a header: whatever the template and
the lead make of it, CR, LF and every other control character become spaces, so a stored name
like `Ada\\r\\nBcc: x@example.com` can never add a header.

Every template is rendered for a sample lead when the client file is checked (at synth and at
cold start): one that does not render stops there, naming the template, its line and the error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from leadflow.lead.profile import LeadProfile

MAX_SUBJECT_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")
# The fields a template sees, as the lead holds them (anything else a lead has stays out of emails).
LEAD_FIELDS = ("first_name", "last_name", "company", "job_title", "email")
# A lead every template must render for when the client file is checked: each field filled, as a
# marketer's test lead would be, so a template that needs one of them renders.
SAMPLE_LEAD: LeadProfile = {
    "lead_id": "ld_" + "a" * 24,
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines",
    "job_title": "Head of Research",
    "custom": {},
    "score": {"total": 42, "fit": 30, "engagement": 12},
    "last_touch": {"inquiry_type": "guide_download"},
    "stage": "nurture",
}
SAMPLE_URL = "https://leads.example.com"


class TemplateProblem(ValueError):
    """A template that does not compile or render: which one, at which line, and why."""

    def __init__(self, name: str, line: int | None, error: str):
        where = f"{name}, line {line}" if line else name
        super().__init__(f"template {where}: {error}")
        self.name = name
        self.line = line


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class Outgoing:
    """One email to send: to whom, what, with which headers and tags (SES's events carry the tags back)."""

    to: str
    rendered: Rendered
    headers: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class EmailTemplate:
    """One email's three templates, as the client file gives them."""

    name: str  # like "sequence welcome, step 2" (or "" where the problem's place says it): in every problem
    subject: str
    html: str
    text: str

    def render(self, lead: LeadProfile, link: Callable[[str], str], unsubscribe_url: str) -> Rendered:
        """The email for this lead; `link` turns a URL into its signed click-tracking link."""
        context = template_context(lead, link, unsubscribe_url)
        return Rendered(
            subject=header_safe(_render(self.name, "subject", self.subject, context, html=False)),
            html=_render(self.name, "html", self.html, context, html=True),
            text=_render(self.name, "text", self.text, context, html=False),
        )

    def check(self) -> None:
        """Render for the sample lead: TemplateProblem (name, line, error) when it does not.

        Each `link(url)` must be a URL a click link may go to (absolute http or https): a link that
        could never be signed would stop the email at every send.
        """
        from leadflow.nurture.email_links import click_target

        self.render(SAMPLE_LEAD, _checked_link(click_target), f"{SAMPLE_URL}/u/sample")


def _checked_link(click_target: Callable[[str], str]) -> Callable[[str], str]:
    """`link` for the check: the URL as a click link would carry it, or a template error naming it."""
    from jinja2 import TemplateError

    def link(url: str) -> str:
        try:
            return click_target(url)
        except ValueError as exc:
            raise TemplateError(f"link({url!r}): {exc}") from None

    return link


def template_context(lead: LeadProfile, link: Callable[[str], str], unsubscribe_url: str) -> dict[str, Any]:
    values: dict[str, Any] = {name: lead.get(name) or "" for name in LEAD_FIELDS}
    values["custom"] = dict(lead.get("custom") or {})
    values["score"] = (lead.get("score") or {}).get("total", 0)
    values["inquiry_type"] = (lead.get("last_touch") or {}).get("inquiry_type", "")
    values["link"] = link
    values["unsubscribe_url"] = unsubscribe_url
    return values


def header_safe(value: str) -> str:
    """A header value: control characters (CR and LF among them) become one space; trimmed and bounded."""
    return _CONTROL.sub(" ", value).strip()[:MAX_SUBJECT_CHARS]


def _render(name: str, part: str, source: str, context: dict[str, Any], html: bool) -> str:
    from jinja2 import TemplateError

    label = f"{name} {part}".strip()
    try:
        template = _compiled(source, html)
    except TemplateError as exc:
        raise TemplateProblem(label, getattr(exc, "lineno", None), _message(exc)) from None
    try:
        return str(template.render(context))
    except TemplateError as exc:
        raise TemplateProblem(label, _line_in_template(exc), _message(exc)) from None


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool) -> Any:
    """A template compiled once per warm function, not once per email (a fifth of a step's time in `make bench`)."""
    return _environment(html).from_string(source)


@cache
def _environment(html: bool) -> Any:
    """The sandbox: autoescaped for HTML; an unknown name is an error (a typo never sends an empty greeting)."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=html, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _message(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return f"{text} (fields: {', '.join(LEAD_FIELDS)}, custom.<name>, score, inquiry_type; link(url), unsubscribe_url)"


def _line_in_template(error: Exception) -> int | None:
    """The template's line a render error came from (Jinja2 puts the template's frames in the traceback)."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
