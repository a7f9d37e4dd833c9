from __future__ import annotations

from pathlib import Path

import pytest

from leadflow.config import ConfigError, find_client_files, load_client_config
from tests.support import CLIENTS

GOOD = """\
name = "acme"

[capture]
allowed_origins = ["https://www.acme.com"]
thank_you_url = "https://www.acme.com/thanks"
"""


def write(tmp_path: Path, text: str, name: str = "acme") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_every_shipped_client_file_is_valid() -> None:
    names = [load_client_config(p).name for p in find_client_files(CLIENTS)]
    assert "demo" in names
    assert len(names) >= 2


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    config = load_client_config(write(tmp_path, GOOD))
    assert config.capture.honeypot_field == "website"
    assert config.capture.max_body_kb == 32
    assert config.stack_name == "Leads-acme"


def test_origin_with_a_path_is_refused_naming_line_field_value_and_rule(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"https://www.acme.com"]', '"https://www.acme.com", "acme.com/contact"]'))
    with pytest.raises(ConfigError) as caught:
        load_client_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "line 4, capture.allowed_origins[1] = 'acme.com/contact'" in message
    assert "must be an origin" in message


def test_missing_required_setting_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('thank_you_url = "https://www.acme.com/thanks"\n', ""))
    with pytest.raises(ConfigError, match=r"capture.thank_you_url: is required but missing"):
        load_client_config(path)


def test_misspelt_setting_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + 'honeypot = "website"\n')
    with pytest.raises(ConfigError, match=r"line 6, capture.honeypot: is not a known setting"):
        load_client_config(path)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "max_body_kb = 0\nmax_custom_fields = 31\n")
    with pytest.raises(ConfigError) as caught:
        load_client_config(path)
    assert len(caught.value.problems) == 2


def test_name_must_match_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"must match the file name \('other'\)"):
        load_client_config(write(tmp_path, GOOD, name="other"))


def test_invalid_toml_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_client_config(write(tmp_path, GOOD + "[capture\n"))


def test_log_retention_must_be_a_value_cloudwatch_offers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="log_retention_days must be one of"):
        load_client_config(write(tmp_path, GOOD + "\n[monitoring]\nlog_retention_days = 10\n"))


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the file does not exist"):
        load_client_config(tmp_path / "nobody.toml")
