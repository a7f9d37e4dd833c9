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


RULES = (
    GOOD
    + """
[[qualify.fit]]
name = "Decision maker"
field = "job_seniority"
in = ["executive", "vp"]
points = 20

[[qualify.negative]]
name = "Students"
field = "job_title"
matches = "(?i)student"
points = -30
"""
)


def test_rule_on_an_unknown_field_names_the_rule_and_suggests_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace('field = "job_title"', 'field = "job_titel"'))
    with pytest.raises(ConfigError) as caught:
        load_client_config(path)
    [problem] = caught.value.problems
    assert problem.startswith("line 13, qualify.negative[0]: rule 'Students': unknown field 'job_titel'")
    assert "did you mean 'job_title'?" in problem


def test_rule_with_a_bad_regular_expression_says_how_to_fix_it(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace('"(?i)student"', '"(?i)student|(intern"'))
    with pytest.raises(ConfigError, match=r"rule 'Students': matches = .* is not a valid regular expression .* escape"):
        load_client_config(path)


def test_rule_points_of_the_wrong_type_name_the_rule_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace("points = 20", 'points = "twenty"'))
    with pytest.raises(ConfigError, match=r"line 11, qualify.fit\[0\].points = 'twenty': rule 'Decision maker'"):
        load_client_config(path)


def test_rule_needs_exactly_one_predicate(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace('in = ["executive", "vp"]', 'in = ["vp"]\nequals = "vp"'))
    with pytest.raises(ConfigError, match="give exactly one of equals, in, contains, between or matches"):
        load_client_config(path)


def test_fit_rule_that_takes_points_away_belongs_under_negative(tmp_path: Path) -> None:
    path = write(tmp_path, RULES.replace("points = 20", "points = -20"))
    with pytest.raises(
        ConfigError, match=r"put rules that take points away or disqualify under \[\[qualify.negative\]\]"
    ):
        load_client_config(path)


def test_sales_ready_must_be_above_marketing_qualified(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "\n[qualify]\nmarketing_qualified = 70\nsales_ready = 60\n")
    with pytest.raises(ConfigError, match="sales_ready must be above marketing_qualified"):
        load_client_config(path)


def test_origins_are_stored_as_browsers_send_them(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"https://www.acme.com"]', '"https://WWW.Acme.com:443", "https://acme.com."]'))
    assert load_client_config(path).capture.allowed_origins == ["https://www.acme.com", "https://acme.com"]


def test_consent_text_longer_than_the_field_limit_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "max_field_chars = 50\n\n[website]\nconsent_text = '" + "y" * 60 + "'\n")
    with pytest.raises(ConfigError, match="every consenting post would be refused"):
        load_client_config(path)
