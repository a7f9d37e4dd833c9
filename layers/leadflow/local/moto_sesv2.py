"""SES v2's SendBulkEmail for the local stack: moto (5.2.5) has none, and nurture sends through it.

Each entry becomes the email SES would send from an inline template: the template's subject,
text and HTML with the entry's values substituted (an inline template is substitution only, and
SES escapes nothing it substitutes), the template's headers with the entry's over them, as a raw
message written by leadflow's mailer. moto's SES backend keeps it as it keeps a raw email sent
with SendEmail, so `leadflow outbox` and the outbox page list it like any other.

What SES refuses as a whole (no entries or more than 50, a stored template, which the local
stack does not hold, a header SES cannot carry) is answered 400 BadRequestException; what it
refuses for one entry is that entry's status, as SES answers it (a placeholder without a value
is INVALID_PARAMETER here; SES itself accepts it and reports a rendering failure later).
"""

from __future__ import annotations

import json
import re
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

BULK_MOST = 50
HEADERS_MOST = 15
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_HEADER_NAME = re.compile(r"[!-9;-@A-~]+")  # SES's MessageHeaderName
_HEADER_VALUE = re.compile(r"[ -~]{1,995}")  # SES's MessageHeaderValue
_BULK_PATH = "{0}/v2/email/outbound-bulk-emails$"


def install() -> None:
    """Teach this process's moto SendBulkEmail (idempotent): before its server's first SES v2 request."""
    from moto.sesv2 import urls
    from moto.sesv2.responses import SESV2Response

    SESV2Response.send_bulk_email = send_bulk_email  # type: ignore[attr-defined]
    urls.url_paths[_BULK_PATH] = SESV2Response.dispatch


def send_bulk_email(self: Any) -> str:
    """moto's answer to SendBulkEmail (a method of moto's SESV2Response): each entry sent, or its status."""
    from moto.core.exceptions import JsonRESTError

    params = json.loads(self.body)
    try:
        template, entries = bulk_request(params)
    except ValueError as exc:
        raise JsonRESTError("BadRequestException", str(exc)) from exc
    return json.dumps({"BulkEmailEntryResults": [_send_entry(self.sesv2_backend, params, template, entry)
                                                 for entry in entries]})  # fmt: skip


def bulk_request(params: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The request's template and entries, or why SES would refuse it whole (`ValueError`)."""
    entries = params.get("BulkEmailEntries") or []
    if not 1 <= len(entries) <= BULK_MOST:
        raise ValueError(f"BulkEmailEntries: between 1 and {BULK_MOST} entries, not {len(entries)}")
    template = (params.get("DefaultContent") or {}).get("Template") or {}
    if "TemplateContent" not in template:
        raise ValueError("the local stack renders inline templates only (TemplateContent); it holds no stored ones")
    for where, headers in [("Template.Headers", template.get("Headers") or []),
                           *((f"BulkEmailEntries[{n}].ReplacementHeaders", entry.get("ReplacementHeaders") or [])
                             for n, entry in enumerate(entries))]:  # fmt: skip
        if len(headers) > HEADERS_MOST:
            raise ValueError(f"{where}: at most {HEADERS_MOST} headers")
        for header in headers:
            if not _HEADER_NAME.fullmatch(header.get("Name", "")) or not _HEADER_VALUE.fullmatch(
                header.get("Value", "")
            ):
                raise ValueError(
                    f"{where}: a header's name or value is not what SES takes (printable ASCII, 995 at most)"
                )
    return template, entries


def render(content: dict[str, str], data: dict[str, Any]) -> dict[str, str]:
    """The template's parts with `data` substituted, as SES does an inline template; a missing value is a KeyError."""

    def value(match: re.Match[str]) -> str:
        found: Any = data
        for key in match.group(1).split("."):
            found = found[key]
        return str(found)

    return {part: _PLACEHOLDER.sub(value, content.get(part) or "") for part in ("Subject", "Text", "Html")}


@lru_cache(maxsize=16)
def _writer(sender: str) -> Any:
    """The mailer that writes a sender's emails (its From line encoded once, not once per entry)."""
    from leadflow.aws.mailer import Mailer

    name, address = parseaddr(sender)
    return Mailer(address, name)


def _send_entry(
    backend: Any, params: dict[str, Any], template: dict[str, Any], entry: dict[str, Any]
) -> dict[str, str]:
    from moto.ses.exceptions import MessageRejectedError, SesError

    from leadflow.route.notice import Email

    to = (entry.get("Destination") or {}).get("ToAddresses") or []
    data = {**json.loads(template.get("TemplateData") or "{}"),
            **json.loads(((entry.get("ReplacementEmailContent") or {}).get("ReplacementTemplate") or {})
                         .get("ReplacementTemplateData") or "{}")}  # fmt: skip
    try:
        parts = render(template["TemplateContent"], data)
    except KeyError as missing:
        return {"Status": "INVALID_PARAMETER", "Error": f"the template's {{{{{missing.args[0]}}}}} has no value"}
    if len(to) != 1:
        return {"Status": "INVALID_PARAMETER", "Error": "the local stack sends each entry to one ToAddress"}
    headers = {header["Name"].lower(): (header["Name"], header["Value"]) for header in template.get("Headers") or []}
    headers.update({header["Name"].lower(): (header["Name"], header["Value"])
                    for header in entry.get("ReplacementHeaders") or []})  # fmt: skip
    try:
        email = Email(to[0], parts["Subject"], parts["Text"], parts["Html"])
        raw = _writer(params.get("FromEmailAddress", "")).mime(email, dict(headers.values()))
        message = backend.send_raw_email(source=params.get("FromEmailAddress"), destinations=[],
                                          raw_data=raw.decode("ascii"))  # fmt: skip
    except MessageRejectedError as exc:  # the sender is not a verified identity
        return {"Status": "MESSAGE_REJECTED", "Error": str(exc.message)}
    except (SesError, ValueError) as exc:  # moto's InvalidParameterValue; the mailer's refusals (Undeliverable too)
        return {"Status": "INVALID_PARAMETER", "Error": str(getattr(exc, "message", exc))}
    return {"Status": "SUCCESS", "MessageId": message.id}
