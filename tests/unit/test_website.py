"""What a web developer pastes, and the script it loads."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser

from leadflow.config import ClientConfig
from leadflow.snippet import form_snippet
from tests.support import ROOT

SCRIPT = ROOT / "functions" / "script" / "leadflow.js"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def test_leadflow_js_is_under_5_kb_gzipped() -> None:
    assert len(gzip.compress(SCRIPT.read_bytes(), compresslevel=9)) < 5 * 1024


def test_snippet_form_posts_to_the_stack_and_loads_the_script(demo_config: ClientConfig) -> None:
    tags = tags_of(form_snippet(demo_config, "https://abc.execute-api.eu-west-1.amazonaws.com/prod/"))
    [form] = [a for t, a in tags if t == "form"]
    assert form["action"] == "https://abc.execute-api.eu-west-1.amazonaws.com/prod/leads"
    assert form["method"] == "post"
    assert "data-leadflow" in form
    assert form["data-leadflow-thank-you"] == demo_config.capture.thank_you_url
    assert (
        "script",
        {"src": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/leadflow.js", "defer": None},
    ) in tags


def test_snippet_honeypot_is_hidden_from_people_and_screen_readers(demo_config: ClientConfig) -> None:
    html = form_snippet(demo_config, "http://127.0.0.1:3000/")
    [trap] = [a for t, a in tags_of(html) if t == "input" and a.get("name") == demo_config.capture.honeypot_field]
    assert trap["tabindex"] == "-1"
    assert trap["autocomplete"] == "off"
    off_screen = r'<div aria-hidden="true" style="position:absolute;left:-10000px[^"]*">\s*<label[^>]*>[^<]*</label>'
    assert re.search(off_screen + rf'\s*<input id="lf-{demo_config.capture.honeypot_field}"', html)


def test_snippet_consent_checkbox_sends_the_text_it_shows(demo_config: ClientConfig) -> None:
    tags = tags_of(form_snippet(demo_config, "http://127.0.0.1:3000/"))
    assert ("input", {"type": "checkbox", "name": "marketing_consent", "value": "yes"}) in tags
    [text] = [a["value"] for t, a in tags if t == "input" and a.get("name") == "consent_text"]
    assert text == demo_config.website.consent_text


def test_snippet_fields_are_leadflow_fields(demo_config: ClientConfig) -> None:
    from leadflow.capture.inquiry import KNOWN_FIELDS

    names = {a["name"] for t, a in tags_of(form_snippet(demo_config, "http://x/")) if t in ("input", "textarea")}
    assert names - {demo_config.capture.honeypot_field} <= KNOWN_FIELDS


def test_snippet_escapes_what_the_config_says(demo_config: ClientConfig) -> None:
    website = demo_config.website.model_copy(update={"consent_text": 'Yes "please" <b>now</b>'})
    html = form_snippet(demo_config.model_copy(update={"website": website}), "http://x/")
    assert "<b>now</b>" not in html
    assert "Yes &quot;please&quot; &lt;b&gt;now&lt;/b&gt;" in html
