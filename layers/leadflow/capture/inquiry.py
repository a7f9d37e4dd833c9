"""What a website may send as an inquiry, checked and normalised (pure: no I/O).

Both a JSON body and a urlencoded HTML form become the same flat mapping of field names
to values first; `check_inquiry` then returns the normalised inquiry or every problem
found, each naming its field. Custom fields travel as `custom.<name>` in a form and as a
`custom` object in JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# Addresses as RFC 5321 allows them (dot-atom local part, with internationalised characters),
# checked without a network lookup; intake verifies and normalises further (email-validator).
EMAIL_LOCAL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+)*$"
)
EMAIL_LABEL = re.compile(r"^(?!-)[A-Za-z0-9\u0080-\U0010ffff-]{1,63}(?<!-)$")
# What SQS accepts in a message (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF).
NOT_SQS_SAFE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
URL_MAX_CHARS = 2048  # page URLs and referrers come from the browser, not the visitor: generous
PHONE = re.compile(r"^\+?[0-9 ().\-/]{5,30}(?:\s*(?:x|ext\.?)\s*\d{1,6})?$", re.IGNORECASE)
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
URL = re.compile(r"^https?://\S+$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")

NAME_FIELDS = ("first_name", "last_name", "company", "job_title")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
URL_FIELDS = ("page_url", "referrer")
TEXT_FIELDS = (*NAME_FIELDS, "phone", "message", "inquiry_type", *URL_FIELDS, *UTM_FIELDS, "consent_text")
KNOWN_FIELDS = frozenset({"email", *TEXT_FIELDS, "marketing_consent", "submission_id", "custom"})
DEFAULT_INQUIRY_TYPE = "contact"
if TYPE_CHECKING:
    from leadflow.capture import CaptureRules

_YES = frozenset({"yes", "true", "on", "1"})
_NO = frozenset({"no", "false", "off", "0", ""})


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class CheckedInquiry:
    email: str
    fields: dict[str, Any]
    custom: dict[str, str] = field(default_factory=dict)
    submission_id: str | None = None


def normalize_email(email: str) -> str:
    return email.strip().lower()


def flatten_json_body(body: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """A JSON object as the flat field mapping forms use; `custom` must be an object."""
    flat: dict[str, Any] = {k: v for k, v in body.items() if k != "custom"}
    errors: list[FieldError] = []
    custom = body.get("custom")
    if custom is not None:
        if not isinstance(custom, dict):
            errors.append(FieldError("custom", "must be an object of name: value pairs"))
        else:
            flat.update({f"custom.{k}": v for k, v in custom.items()})
    return flat, errors


def flatten_form_fields(pairs: list[tuple[str, str]]) -> tuple[dict[str, Any], list[FieldError]]:
    """urlencoded pairs as a flat mapping; `custom[name]` is read as `custom.name`."""
    flat: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in pairs:
        bracket = re.fullmatch(r"custom\[([^\]]*)\]", name)
        key = f"custom.{bracket.group(1)}" if bracket else name
        if key in flat:
            errors.append(FieldError(key, "was sent more than once; send each field once"))
        flat[key] = value
    return flat, errors


def is_bot(flat: Mapping[str, Any], honeypot_field: str) -> bool:
    value = flat.get(honeypot_field)
    return value is not None and str(value).strip() != ""


def check_inquiry(flat: Mapping[str, Any], settings: CaptureRules) -> tuple[CheckedInquiry | None, list[FieldError]]:
    errors: list[FieldError] = []
    fields: dict[str, Any] = {}
    custom: dict[str, str] = {}

    for name in sorted(flat):
        if name == settings.honeypot_field or name.startswith("custom.") or name in KNOWN_FIELDS:
            continue
        errors.append(
            FieldError(name, f"is not a leadflow field: send it as custom.{name} to keep it, or leave it out")
        )

    email = _text(flat, "email", 254, errors)
    if email is None or email == "":
        if not any(e.field == "email" for e in errors):
            errors.append(FieldError("email", "is required"))
    elif not is_email(email):
        errors.append(FieldError("email", "is not a valid email address (expected name@example.com)"))

    for name in TEXT_FIELDS:
        limit = {"message": settings.max_message_chars, "page_url": URL_MAX_CHARS, "referrer": URL_MAX_CHARS}.get(
            name, settings.max_field_chars
        )
        value = _text(flat, name, limit, errors)
        if value:
            fields[name] = value

    if "phone" in fields and not PHONE.match(fields["phone"]):
        errors.append(
            FieldError("phone", "is not a phone number (digits, spaces, +, -, ( ) and an optional extension)")
        )
    inquiry_type = fields.setdefault("inquiry_type", DEFAULT_INQUIRY_TYPE)
    if not SLUG.match(inquiry_type):
        errors.append(FieldError("inquiry_type", "must be lower-case letters, digits and _ (like demo_request)"))
    for name in URL_FIELDS:
        if name in fields and not URL.match(fields[name]):
            errors.append(FieldError(name, "must be an absolute http(s) URL"))

    consent = _consent(flat.get("marketing_consent"), errors)
    fields["marketing_consent"] = consent
    if consent and not fields.get("consent_text"):
        errors.append(
            FieldError(
                "consent_text", "is required when marketing_consent is yes: send the wording the visitor agreed to"
            )
        )

    submission_id = _text(flat, "submission_id", 128, errors)
    if submission_id and not IDEMPOTENCY_KEY.match(submission_id):
        errors.append(FieldError("submission_id", "must be 8 to 128 letters, digits or . _ : -"))

    custom_names = sorted(n for n in flat if n.startswith("custom."))
    if len(custom_names) > settings.max_custom_fields:
        errors.append(
            FieldError("custom", f"has {len(custom_names)} fields; at most {settings.max_custom_fields} are allowed")
        )
    for name in custom_names:
        short = name.removeprefix("custom.")
        if not SLUG.match(short):
            errors.append(
                FieldError(name, "custom field names must be lower-case letters, digits and _ (like budget_range)")
            )
            continue
        value = flat[name]
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            errors.append(FieldError(name, "must be text, a number or true/false"))
            continue
        if len(value) > settings.max_field_chars:
            errors.append(FieldError(name, f"is {len(value)} characters; the limit is {settings.max_field_chars}"))
            continue
        if NOT_SQS_SAFE.search(value):
            errors.append(FieldError(name, "contains a control or unpaired surrogate character; send plain text"))
            continue
        custom[short] = value.strip()

    if errors or email is None:
        return None, errors
    return CheckedInquiry(normalize_email(email), fields, custom, submission_id or None), []


def _text(flat: Mapping[str, Any], name: str, limit: int, errors: list[FieldError]) -> str | None:
    value = flat.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(name, "must be text"))
        return None
    value = value.strip()
    if len(value) > limit:
        errors.append(FieldError(name, f"is {len(value)} characters; the limit is {limit}"))
        return None
    if NOT_SQS_SAFE.search(value):
        errors.append(FieldError(name, "contains a control or unpaired surrogate character; send plain text"))
        return None
    return value


def is_email(address: str) -> bool:
    """name@example.com as mail servers take it: no leading, trailing or doubled dots, sane lengths."""
    local, at, domain = address.rpartition("@")
    if not at or not local or len(local) > 64 or len(address) > 254:
        return False
    labels = domain.split(".")
    return (
        EMAIL_LOCAL.match(local) is not None
        and len(labels) >= 2
        and all(EMAIL_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _consent(value: Any, errors: list[FieldError]) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    errors.append(FieldError("marketing_consent", "must be yes or no"))
    return False
