"""[capture] in a client file: how a website's own field names are mapped to leadflow's, and what is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leadflow.cli import CLIENT_TEMPLATE
from leadflow.config import ConfigError, load_client_config

GOOD = """\
name = "acme"

[capture]
allowed_origins = ["https://www.acme.com"]
thank_you_url = "https://www.acme.com/thanks"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(text, encoding="utf-8")
    return path


def with_field_names(tmp_path: Path, *entries: str) -> Path:
    return write(tmp_path, GOOD + "\n[capture.field_names]\n" + "\n".join(entries) + "\n")


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_client_config(path)
    return str(caught.value)


def test_field_names_map_website_names_to_leadflow_fields_and_custom_fields(tmp_path: Path) -> None:
    path = with_field_names(tmp_path, '"your-email" = "email"', '"Company Name" = "company"', 'fleet = "custom.fleet"')
    mapping = load_client_config(path).capture.field_names
    assert mapping == {"your-email": "email", "Company Name": "company", "fleet": "custom.fleet"}


def test_field_names_default_to_none(tmp_path: Path) -> None:
    assert load_client_config(write(tmp_path, GOOD)).capture.field_names == {}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            '"your-email" = "emial"',
            "\"your-email\" = \"emial\": 'emial' is not a leadflow field: did you mean 'email'?",
        ),
        ('"fleet" = "fleet_size"', "use one of email, first_name,"),
        ('"fleet" = "custom"', "'custom' is not a leadflow field"),
        ('"fleet" = "custom.Fleet Size"', "a custom field is custom.<name>, the name in lower-case letters"),
        ('"email" = "first_name"', '"email" = "first_name": email is a leadflow name already, which needs no entry'),
        ('"custom.fleet" = "company"', "custom.fleet is a leadflow name already"),
        ('"  " = "company"', "a website's field name is 1 to 100 printable characters"),
    ],
)
def test_field_names_entry_that_cannot_work_is_refused_naming_it_and_what_is_allowed(
    tmp_path: Path, entry: str, problem: str
) -> None:
    message = problems_of(with_field_names(tmp_path, entry))
    assert "capture.field_names" in message
    assert problem in message


def test_every_bad_field_names_entry_is_named_at_once(tmp_path: Path) -> None:
    message = problems_of(with_field_names(tmp_path, '"a" = "emial"', '"b" = "compnay"'))
    assert '"a" = "emial"' in message
    assert '"b" = "compnay"' in message


def test_honeypot_field_cannot_be_mapped(tmp_path: Path) -> None:
    message = problems_of(with_field_names(tmp_path, '"website" = "company"'))
    assert '"website" is the honeypot_field' in message


@pytest.mark.parametrize("field", ["email", "company", "custom"])
def test_honeypot_field_cannot_be_a_field_people_fill_in(tmp_path: Path, field: str) -> None:
    message = problems_of(write(tmp_path, GOOD + f'honeypot_field = "{field}"\n'))
    assert "would be taken for a bot" in message


def test_client_template_documents_field_names_with_an_example_that_loads(tmp_path: Path) -> None:
    template = CLIENT_TEMPLATE.format(name="acme")
    assert "# [capture.field_names]" in template
    # The commented example, switched on, is a valid mapping.
    switched_on = re.sub(r'^# (\[capture\.field_names\]|"[^"]+" = "[^"]+")$', r"\1", template, flags=re.MULTILINE)
    mapping = load_client_config(write(tmp_path, switched_on)).capture.field_names
    assert mapping["your-email"] == "email"
    assert mapping["fleet"] == "custom.fleet_size"
