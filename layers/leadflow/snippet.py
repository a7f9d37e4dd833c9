"""The HTML a web developer pastes: a form that works without JavaScript and better with it.

Without leadflow.js the form posts urlencoded to `POST /leads` and the visitor follows the
303 to the client's thank-you (or error) page. With it, the same form posts JSON with an
idempotency key, carries UTM parameters, referrer and page URL, shows field errors beside the
fields and retries when the endpoint is briefly unavailable.
"""

from __future__ import annotations

from html import escape

from leadflow.config import ClientConfig

FIELDS = (  # name, label, input type, autocomplete
    ("first_name", "First name", "text", "given-name"),
    ("last_name", "Last name", "text", "family-name"),
    ("company", "Company", "text", "organization"),
    ("job_title", "Job title", "text", "organization-title"),
    ("phone", "Phone", "tel", "tel"),
)


def form_snippet(config: ClientConfig, api_url: str) -> str:
    """The form and script tag for a client whose API is at `api_url` (the stack's ApiUrl)."""
    base = api_url.rstrip("/")
    capture, website = config.capture, config.website
    limit = capture.max_field_chars
    honeypot = escape(capture.honeypot_field)
    rows = [
        '  <p><label for="lf-email">Work email</label>\n'
        '     <input id="lf-email" name="email" type="email" autocomplete="email" required maxlength="254"></p>'
    ]
    for name, label, kind, autocomplete in FIELDS:
        rows.append(
            f'  <p><label for="lf-{name}">{label}</label>\n'
            f'     <input id="lf-{name}" name="{name}" type="{kind}" autocomplete="{autocomplete}"'
            f' maxlength="{limit}"></p>'
        )
    rows.append(
        f'  <p><label for="lf-message">How can we help?</label>\n'
        f'     <textarea id="lf-message" name="message" rows="4"'
        f' maxlength="{capture.max_message_chars}"></textarea></p>'
    )
    consent = escape(website.consent_text, quote=True)
    return "\n".join(
        [
            f"<!-- leadflow form for {escape(config.display_name or config.name)}: paste it where it belongs. -->",
            f'<form action="{escape(base)}/leads" method="post" data-leadflow'
            f' data-leadflow-thank-you="{escape(capture.thank_you_url, quote=True)}">',
            *rows,
            f'  <input type="hidden" name="inquiry_type" value="{escape(website.inquiry_type)}">',
            "  <!-- People never see this field; bots fill it in, and their posts are dropped. -->",
            '  <div aria-hidden="true" style="position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden">',
            f'    <label for="lf-{honeypot}">Leave this empty</label>',
            f'    <input id="lf-{honeypot}" name="{honeypot}" type="text" tabindex="-1" autocomplete="off">',
            "  </div>",
            f'  <p><label><input type="checkbox" name="marketing_consent" value="yes"> {consent}</label>',
            f'     <input type="hidden" name="consent_text" value="{consent}"></p>',
            f'  <button type="submit">{escape(website.submit_label)}</button>',
            "</form>",
            f'<script src="{escape(base)}/leadflow.js" defer></script>',
        ]
    )
