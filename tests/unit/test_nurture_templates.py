"""Nurture templates (leadflow.nurture.templates) and their place in the client file ([nurture])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadflow.config import ConfigError, NurtureSettings, load_client_config
from leadflow.lead.profile import LeadProfile
from leadflow.nurture.templates import SAMPLE_LEAD, EmailTemplate, TemplateProblem
from tests.support import CLIENTS

GREETING = EmailTemplate(
    "welcome",
    subject="Hello {{ first_name }} from {{ company }}",
    html="<p>Hello {{ first_name }}</p><a href=\"{{ link('https://demo.example/guide') }}\">guide</a>",
    text="Hello {{ first_name }}: {{ link('https://demo.example/guide') }} (stop: {{ unsubscribe_url }})",
)


def lead(**fields: Any) -> LeadProfile:
    return {**SAMPLE_LEAD, **fields}  # type: ignore[typeddict-item]


def render(template: EmailTemplate = GREETING, **fields: Any) -> Any:
    return template.render(lead(**fields), lambda url: f"https://t.example/c/signed?to={url}", "https://t.example/u/x")


def test_what_a_lead_typed_is_text_in_the_html_never_markup() -> None:
    html = render(first_name='<script>alert("x")</script>').html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_a_name_with_cr_lf_cannot_add_a_header_to_the_subject() -> None:
    subject = render(first_name="Ada\r\nBcc: x@example.com").subject
    assert "\r" not in subject
    assert "\n" not in subject
    assert subject == "Hello Ada Bcc: x@example.com from Analytical Engines"


def test_links_in_a_template_go_through_the_signed_click_link() -> None:
    rendered = render()
    assert 'href="https://t.example/c/signed?to=https://demo.example/guide"' in rendered.html
    assert "https://t.example/u/x" in rendered.text


def test_the_sandbox_refuses_reaching_into_python() -> None:
    sneaky = EmailTemplate("sneaky", "x", "{{ link.__globals__ }}", "x")
    with pytest.raises(TemplateProblem, match="sneaky html"):
        render(sneaky)


def test_an_unknown_field_is_an_error_naming_the_template_and_its_line() -> None:
    typo = EmailTemplate("welcome", "Hi", "<p>Hello</p>\n<p>{{ frist_name }}</p>", "x")
    with pytest.raises(TemplateProblem, match=r"template welcome html, line 2: 'frist_name' is undefined"):
        typo.check()


def test_a_syntax_error_names_the_template_and_its_line() -> None:
    broken = EmailTemplate("welcome", "Hi", "ok", "line one\n{% if first_name %}no end")
    with pytest.raises(TemplateProblem, match=r"template welcome text, line 2"):
        broken.check()


def nurture_file(tmp_path: Path, step_html: str) -> Path:
    demo = (CLIENTS / "demo.toml").read_text()
    head = demo[: demo.index("[nurture]")]
    path = tmp_path / "demo.toml"
    path.write_text(
        head
        + '[nurture]\nunsubscribe_mail_domain = "unsubscribe.demo.example"\n\n'
        + '[[nurture.sequences]]\nname = "welcome"\n\n[[nurture.sequences.steps]]\n'
        + f'subject = "Hi"\nhtml = """{step_html}"""\ntext = "Hi"\n'
    )
    return path


def test_a_template_that_does_not_render_stops_the_client_file_naming_where(tmp_path: Path) -> None:
    path = nurture_file(tmp_path, "<p>{{ first_name }}</p>\n<p>{{ comapny }}</p>")
    step_line = path.read_text().splitlines().index("[[nurture.sequences.steps]]") + 1
    with pytest.raises(ConfigError) as raised:
        load_client_config(path)
    assert f"line {step_line}, nurture.sequences[0].steps[0]: template html, line 2: 'comapny' is undefined" in str(
        raised.value
    )


def test_the_demo_clients_sequences_render() -> None:
    config = load_client_config(CLIENTS / "demo.toml")
    assert [len(sequence.steps) for sequence in config.nurture.sequences] == [2]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"send_window": {"hours": "17:00-09:00"}}, "must open before it closes"),
        ({"default_timezone": "Mars/Olympus"}, "is not known"),
        ({"sequences": [{"name": "a", "steps": [{"subject": "s", "html": "h", "text": "t"}]}] * 2}, "unique"),
        ({"sequences": [{"name": "a", "score_between": [60, 10],
                         "steps": [{"subject": "s", "html": "h", "text": "t"}]}]}, "min <= max"),
        ({"sequences": [{"name": "a", "steps": [{"subject": "s", "html": "h", "text": "t"}]}]},
         "unsubscribe_mail_domain is missing: every nurture email offers unsubscribing by email"),
        ({"unsubscribe_mail_domain": "https://unsubscribe.example.com"}, "should match pattern"),
        ({"unsubscribe_mail_domain": "localhost"}, "should match pattern"),
    ],
)  # fmt: skip
def test_nurture_settings_refuse_what_cannot_work(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        NurtureSettings.model_validate(settings)


def test_a_link_that_could_never_be_signed_stops_the_check_naming_the_template() -> None:
    template = EmailTemplate(
        "sequence welcome, step 1", "Hi", "<a href=\"{{ link('javascript:alert(1)') }}\">x</a>", "t"
    )
    with pytest.raises(
        TemplateProblem, match=r"sequence welcome, step 1 html, line 1: link\('javascript:alert\(1\)'\)"
    ):
        template.check()


def test_the_new_client_template_has_a_welcome_sequence_whose_commented_options_load_switched_on(
    tmp_path: Path,
) -> None:
    import re

    from leadflow.cli import CLIENT_TEMPLATE

    template = CLIENT_TEMPLATE.format(name="acme")
    path = tmp_path / "acme.toml"
    path.write_text(template, encoding="utf-8")
    nurture = load_client_config(path).nurture
    assert [(s.name, len(s.steps)) for s in nurture.sequences] == [("welcome", 2)]
    assert nurture.acknowledgements == {}
    # The commented options, switched on: a segment, a score band and an acknowledgement.
    switched_on = re.sub(r"^# ((when|score_between|subject|html|text) = .*|\[nurture\.acknowledgements\..*\])$",
                         r"\1", template, flags=re.MULTILINE)  # fmt: skip
    path.write_text(switched_on, encoding="utf-8")
    nurture = load_client_config(path).nurture
    assert nurture.sequences[0].score_between == (0, 49)
    assert [c.field for c in nurture.sequences[0].when] == ["country"]
    assert list(nurture.acknowledgements) == ["price_list"]
