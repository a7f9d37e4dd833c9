"""What a website may send as an inquiry, checked and normalised (pure: no I/O).

Both a JSON body and a urlencoded HTML form become the same flat mapping of field names
to values first. `route_fields` then gives each value its leadflow field (the client's
`[capture.field_names]` map a website's own names, like `your-email`, to leadflow's), and
`check_inquiry` returns the normalised inquiry or every problem found, each naming the
field as the website sent it. Custom fields travel as `custom.<name>` (or `custom[name]`)
in a form and as a `custom` object in JSON.

An unknown field never costs a lead: a field that is neither a leadflow field nor mapped
(a submit button, a CSRF token, a captcha answer) is not stored, and the inquiry lists its
name, so a marketer sees what to map and a JSON client learns of a misspelt field.

What a person typed is data, never markup or a header: no field may hold control characters
or the bidi controls that make text display as other text, and only the message keeps line
breaks and tabs. A value made only of spaces and invisible characters counts as not sent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadflow.capture.request import CaptureRules

EMAIL_MAX_CHARS = 254
EMAIL_LOCAL_MAX_BYTES = 64
URL_MAX_CHARS = 2048  # page URLs and referrers come from the browser, not the visitor: generous
SUBMISSION_ID_MAX_CHARS = 128
# Spelt out rather than re.IGNORECASE, which costs milliseconds of cold start to compile.
PHONE = re.compile(r"^\+?[0-9 ().\-/]{5,30}(?:\s*(?:[xX]|[eE][xX][tT]\.?)\s*[0-9]{1,6})?$")
PHONE_EXTENSION = re.compile(r"\s*(?:[xX]|[eE][xX][tT]\.?)\s*[0-9]{1,6}$")
PHONE_MIN_DIGITS = 5  # the shortest numbers in use (small countries, without a country code)
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
URL = re.compile(r"^https?://\S+$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
MAX_IGNORED_NAMES = 20  # names of unknown fields an inquiry lists, so nobody can stuff the message
IGNORED_NAME_MAX_CHARS = 64

NAME_FIELDS = ("first_name", "last_name", "company", "job_title")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
URL_FIELDS = ("page_url", "referrer")
TEXT_FIELDS = (*NAME_FIELDS, "phone", "message", "inquiry_type", *URL_FIELDS, *UTM_FIELDS, "consent_text")
# What a website's field may fill (a [capture.field_names] target), besides custom.<name>.
LEADFLOW_FIELDS = ("email", *TEXT_FIELDS, "marketing_consent", "submission_id")
KNOWN_FIELDS = frozenset({*LEADFLOW_FIELDS, "custom"})
DEFAULT_INQUIRY_TYPE = "contact"

# No field may hold these: C0 and C1 controls, the bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069), and what SQS cannot carry (unpaired surrogates, U+FFFE,
# U+FFFF). A single-line field also refuses TAB and line breaks; the message keeps them.
_NEVER = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_NOT_IN_MESSAGE = re.compile(f"[{_NEVER}]")
_NOT_IN_LINE = re.compile(rf"[{_NEVER}\t\n\r\u2028\u2029]")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters that show nothing (Hangul fillers, the braille blank, the combining grapheme joiner).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")
# ASCII an unquoted local part cannot hold (RFC 5322 specials, space, controls); dots are split on.
_NOT_IN_LOCAL_PART = re.compile(r"[\x00-\x20\"(),:;<>@\[\\\]\x7f]")
# Label separators IDNA maps to a dot: ideographic, full-width and half-width full stops.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_NOT_SLUG = re.compile(r"[^a-z0-9]+")

_YES = frozenset({"yes", "true", "on", "1"})
_NO = frozenset({"no", "false", "off", "0"})
_EMPTY_HONEYPOT = frozenset({"false", "0", "no", "off", "null"})  # what a form library sends for "not filled"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class RoutedFields:
    """A request's values under their leadflow names, and what could not be placed."""

    values: dict[str, Any] = field(default_factory=dict)  # leadflow name (or custom.<name>) -> value
    sent_as: dict[str, str] = field(default_factory=dict)  # leadflow name -> the name the website used
    ignored_fields: list[str] = field(default_factory=list)  # printable, sorted, at most MAX_IGNORED_NAMES
    errors: list[FieldError] = field(default_factory=list)


@dataclass
class CheckedInquiry:
    email: str
    fields: dict[str, Any]
    custom: dict[str, str] = field(default_factory=dict)
    submission_id: str | None = None
    ignored_fields: list[str] = field(default_factory=list)


# Email addresses


def normalize_email(address: str) -> str:
    """The one form of an address that names a person's lead: at capture, at intake and in the CLI.

    The local part in Unicode NFC; the domain in Unicode too (`xn--` labels decoded; full-width
    letters and ideographic dots mapped as IDNA maps them); all lower-cased. So `Ada@Bücher.de`,
    `ada@bücher.de` and `ada@xn--bcher-kva.de` are one lead. This is email-validator's
    `normalized` form, lower-cased, without its import cost. Any text gives a string:
    `email_problem` says whether it is an address.
    """
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return _lower_nfc(domain)
    return f"{_lower_nfc(local)}@{_normalize_domain(domain)}"


def email_problem(address: str) -> str | None:
    """Why an address cannot be mailed, or None: offline (no DNS), as mail servers read it.

    Checks what was sent for unsafe characters first (email-validator's rule, which intake
    applies: no control, format, private-use or unassigned characters, no spaces, no
    combining mark at the start of a part), then the syntax of its normalised form.
    """
    unsafe = _unsafe_in_email(address.strip())
    if unsafe:
        return unsafe
    normalized = normalize_email(address)
    local, at, domain = normalized.rpartition("@")
    if not at or not local or not domain:
        return "is not an email address: send one like name@example.com"
    if len(normalized) > EMAIL_MAX_CHARS:
        return f"is {len(normalized)} characters; an email address has at most {EMAIL_MAX_CHARS}"
    if len(local.encode("utf-8")) > EMAIL_LOCAL_MAX_BYTES:
        return f"has more than {EMAIL_LOCAL_MAX_BYTES} bytes before the @, which mail servers refuse"
    if any(not atom for atom in local.split(".")):
        return "has a dot at the start or end of the part before the @, or two dots in a row: remove the extra dot"
    special = _NOT_IN_LOCAL_PART.search(local)
    if special:
        return f"holds {special.group()!r} before the @, which an address cannot: send it as name@example.com"
    return _domain_problem(domain)


def _domain_problem(domain: str) -> str | None:
    labels = domain.split(".")
    if len(labels) < 2:
        return f"needs a domain with a dot after the @, like example.com (got {domain!r})"
    for label in labels:
        if not label:
            return "has an empty part in its domain (two dots in a row, or a dot at the end): remove the extra dot"
        if label.startswith("-") or label.endswith("-"):
            return f"has a domain part that starts or ends with a hyphen ({label!r})"
        if label.startswith("xn--"):  # normalize_email decodes every valid one
            return f"has a domain part that is not a valid internationalised name ({label!r})"
        if not all(char.isalnum() or char == "-" or unicodedata.category(char)[0] == "M" for char in label):
            return f"has a domain part with characters a domain cannot hold ({label!r}): letters, digits and - only"
        ascii_form = label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        if len(ascii_form) > 63:
            return f"has a domain part longer than 63 characters ({label[:20]!r}...)"
    if labels[-1].isdigit():
        return "ends in a number, not a domain name: send one like name@example.com"
    return None


def _unsafe_in_email(address: str) -> str | None:
    """The first character email-validator would call unsafe, described, or None."""
    local, _, _ = address.rpartition("@")
    part_starts = {0, len(local) + 1}
    for position, char in enumerate(address):
        category = unicodedata.category(char)
        if category[0] in "LNPS" or (category[0] == "M" and position not in part_starts):
            continue
        if char == " ":
            return "holds a space: send the address without spaces, like name@example.com"
        return (
            f"holds {_describe_char(char)}, an invisible or control character, at position {position + 1}: "
            "type the address again without it"
        )
    return None


def _normalize_domain(domain: str) -> str:
    mapped = unicodedata.normalize("NFKC", domain).translate(_DOTS).lower()
    return ".".join(_u_label(label) for label in mapped.split("."))


def _u_label(label: str) -> str:
    """A domain label in Unicode: an `xn--` label decoded (left as is when it is not valid punycode)."""
    if label.startswith("xn--") and label.isascii():
        try:
            decoded = label[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            return label
        if decoded.isascii():  # an A-label always encodes something beyond ASCII
            return label
        label = decoded
    return _lower_nfc(label)


def _lower_nfc(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower())


# From a request's fields to leadflow's


def flatten_json_body(body: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """A JSON object as the flat field mapping forms use; `custom` must be an object."""
    flat: dict[str, Any] = {k: v for k, v in body.items() if k != "custom"}
    errors: list[FieldError] = []
    custom = body.get("custom")
    if custom is not None:
        if not isinstance(custom, dict):
            errors.append(FieldError("custom", 'must be an object of name: value pairs, like {"fleet_size": "12"}'))
        else:
            for name, value in custom.items():
                key = f"custom.{name}"
                if key in flat:
                    errors.append(FieldError(key, "was sent more than once; send each field once"))
                flat[key] = value
    return flat, errors


def flatten_form_fields(pairs: list[tuple[str, str]]) -> tuple[dict[str, Any], list[FieldError]]:
    """urlencoded pairs as a flat mapping; `custom[name]` is read as `custom.name`."""
    flat: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in pairs:
        bracket = re.fullmatch(r"custom\[([^\]]*)\]", name)
        key = f"custom.{bracket.group(1)}" if bracket else name
        if key in flat:
            errors.append(FieldError(printable_name(key), "was sent more than once; send each field once"))
        flat[key] = value
    return flat, errors


def route_fields(flat: Mapping[str, Any], rules: CaptureRules) -> RoutedFields:
    """Each value under its leadflow name; unknown fields listed, never refused.

    A website's own name is looked up in `rules.field_names`; a custom field's name is made
    a slug (`custom.Fleet Size` is kept as `custom.fleet_size`). Values that count as not
    sent are dropped. Custom fields beyond `rules.max_custom_fields` are ignored like
    unknown fields, in name order.
    """
    routed = RoutedFields()
    ignored: list[str] = []
    for name, value in flat.items():
        if name == rules.honeypot_field:
            continue
        target = _leadflow_name(rules.field_names.get(name, name))
        if target is None:
            ignored.append(name)
            continue
        if _not_sent(value):
            continue
        if target in routed.values:
            if not _same_value(routed.values[target], value):
                first, then = (printable_name(n) for n in (routed.sent_as.get(target, target), name))
                routed.errors.append(FieldError(target, f"was sent twice, as {first} and {then}: send it once"))
            continue
        routed.values[target] = value
        if name != target:
            routed.sent_as[target] = name
    custom = sorted(name for name in routed.values if name.startswith("custom."))
    for name in custom[rules.max_custom_fields :]:
        ignored.append(routed.sent_as.pop(name, name))
        del routed.values[name]
    routed.ignored_fields = sorted({printable_name(name) for name in ignored})[:MAX_IGNORED_NAMES]
    return routed


def custom_field_name(name: str) -> str | None:
    """A custom field's name as leadflow keeps it (`Fleet Size` -> `fleet_size`), or None when none can be made."""
    if SLUG.match(name):
        return name
    ascii_name = unicodedata.normalize("NFKD", name.casefold()).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("_", ascii_name).strip("_")[:40].rstrip("_")
    return slug if SLUG.match(slug) else None


def _leadflow_name(name: str) -> str | None:
    if name in LEADFLOW_FIELDS:
        return name
    if name.startswith("custom."):
        slug = custom_field_name(name.removeprefix("custom."))
        return f"custom.{slug}" if slug else None
    return None


def is_bot(flat: Mapping[str, Any], honeypot_field: str) -> bool:
    """Whether the hidden field people never fill in was filled; `false`, `0`, `off`, `null` and blanks are empty."""
    value = flat.get(honeypot_field)
    if value is None or value is False or value == 0 or value in ([], {}):
        return False
    if isinstance(value, str):
        return not (_not_sent(value) or value.strip().lower() in _EMPTY_HONEYPOT)
    return True


# Checking the values


def check_inquiry(routed: RoutedFields, rules: CaptureRules) -> tuple[CheckedInquiry | None, list[FieldError]]:
    """The inquiry, normalised, or every problem found, each naming the field as the website sent it."""
    values = routed.values
    errors = list(routed.errors)
    fields: dict[str, Any] = {}

    email = _email(values.get("email"), errors)
    for name in TEXT_FIELDS:
        value = _text(values, name, _limit(name, rules), errors)
        if value:
            fields[name] = value

    if "phone" in fields:
        problem = _phone_problem(fields["phone"])
        if problem:
            errors.append(FieldError("phone", problem))
    inquiry_type = fields.setdefault("inquiry_type", DEFAULT_INQUIRY_TYPE)
    if not SLUG.match(inquiry_type):
        errors.append(FieldError("inquiry_type", "must be lower-case letters, digits and _ (like demo_request)"))
    for name in URL_FIELDS:
        if name in fields and not URL.match(fields[name]):
            errors.append(FieldError(name, "must be an absolute http(s) URL, like https://www.example.com/pricing"))

    consent = _consent(values.get("marketing_consent"), errors)
    fields["marketing_consent"] = consent
    if consent and not fields.get("consent_text"):
        errors.append(
            FieldError(
                "consent_text", "is required when marketing_consent is yes: send the wording the visitor agreed to"
            )
        )

    submission_id = _text(values, "submission_id", SUBMISSION_ID_MAX_CHARS, errors)
    if submission_id and not IDEMPOTENCY_KEY.match(submission_id):
        errors.append(FieldError("submission_id", "must be 8 to 128 letters, digits or . _ : -"))

    custom: dict[str, str] = {}
    for name in sorted(n for n in values if n.startswith("custom.")):
        value = values[name]
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            errors.append(FieldError(name, "must be text, a number or true/false"))
            continue
        text = _text({name: value}, name, rules.max_field_chars, errors)
        if text:
            custom[name.removeprefix("custom.")] = text

    if errors or email is None:
        return None, [FieldError(routed.sent_as.get(e.field, e.field), e.message) for e in errors]
    return CheckedInquiry(email, fields, custom, submission_id or None, routed.ignored_fields), []


def _email(value: Any, errors: list[FieldError]) -> str | None:
    if value is None:
        errors.append(FieldError("email", "is required: send the visitor's email address, like name@example.com"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError("email", "must be text, like name@example.com"))
        return None
    if len(value) > 2 * EMAIL_MAX_CHARS:  # before any work on it
        errors.append(FieldError("email", f"is {len(value)} characters; an address has at most {EMAIL_MAX_CHARS}"))
        return None
    problem = email_problem(value)
    if problem:
        errors.append(FieldError("email", problem))
        return None
    return normalize_email(value)


def _limit(name: str, rules: CaptureRules) -> int:
    if name == "message":
        return rules.max_message_chars
    return URL_MAX_CHARS if name in URL_FIELDS else rules.max_field_chars


def _text(values: Mapping[str, Any], name: str, limit: int, errors: list[FieldError]) -> str | None:
    """A text field trimmed of surrounding spaces and invisible characters, in NFC; None when not sent or refused."""
    value = values.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(name, "must be text: send it in quotes"))
        return None
    value = _trimmed(value)
    if len(value) > limit:
        errors.append(FieldError(name, f"is {len(value)} characters; the limit is {limit}: send a shorter text"))
        return None
    problem = text_problem(value, multi_line=name == "message")
    if problem:
        errors.append(FieldError(name, problem))
        return None
    return unicodedata.normalize("NFC", value) or None


def text_problem(value: str, multi_line: bool = False) -> str | None:
    """Why a value cannot be kept as text, naming the character and what to send instead; None when it can."""
    found = (_NOT_IN_MESSAGE if multi_line else _NOT_IN_LINE).search(value)
    if found is None:
        return None
    char, where = found.group(), f"at character {found.start() + 1}"
    if char in "\t\n\r\u2028\u2029":
        return f"holds a tab or line break ({_describe_char(char)}) {where}: send it on one line"
    if char in _BIDI_CONTROLS:
        return (
            f"holds {_describe_char(char)} {where}, a control that makes text display as other text: "
            "send the text without it"
        )
    if "\ud800" <= char <= "\udfff" or char in "\ufffe\uffff":
        return f"holds {_describe_char(char)} {where}, which is no character: send the text as valid Unicode"
    return f"holds the control character {_describe_char(char)} {where}: send plain text"


def _phone_problem(phone: str) -> str | None:
    if not PHONE.match(phone):
        return "is not a phone number: send digits with an optional +, spaces, - and ( ), like +44 20 7946 0000"
    digits = sum(char.isdigit() for char in PHONE_EXTENSION.sub("", phone))
    if digits < PHONE_MIN_DIGITS:
        return (
            f"has {digits} digit{'s' if digits != 1 else ''}; a phone number has at least {PHONE_MIN_DIGITS}: "
            "send the whole number with its area code, like +44 20 7946 0000"
        )
    return None


def _consent(value: Any, errors: list[FieldError]) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    errors.append(FieldError("marketing_consent", "must be yes or no"))
    return False


# Characters


def _is_invisible(char: str) -> bool:
    """Spaces, and characters that show nothing (zero-width spaces and joiners, BOM, soft hyphen...)."""
    if char.isspace() or char in _BLANK_LETTERS:
        return True
    return unicodedata.category(char) == "Cf" and char not in _BIDI_CONTROLS  # bidi controls are refused instead


def _trimmed(value: str) -> str:
    start, end = 0, len(value)
    while start < end and _is_invisible(value[start]):
        start += 1
    while end > start and _is_invisible(value[end - 1]):
        end -= 1
    return value[start:end]


def _same_value(first: Any, second: Any) -> bool:
    if isinstance(first, str) and isinstance(second, str):
        return _trimmed(first).casefold() == _trimmed(second).casefold()
    return bool(first == second)


def _not_sent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not _trimmed(value))


def _describe_char(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


def printable_name(name: str, limit: int = IGNORED_NAME_MAX_CHARS) -> str:
    """A name someone sent, safe to store and show: the unprintable escaped, cut to `limit` characters."""
    shown = "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in name[:limit])
    return shown if len(shown) <= limit else shown[:limit] + "..."
