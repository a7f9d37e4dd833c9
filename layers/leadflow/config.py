"""A client's configuration: one TOML file per client in `clients/`, checked by pydantic.

The same model is checked when the CDK app synthesizes, when `leadflow local` starts, and
when a function starts cold (the file ships with the functions), so a mistake is caught
before anything is deployed and names the file, the line, the field, the value and what
is allowed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

CLIENT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _origin(value: str) -> str:
    if not _ORIGIN.match(value):
        raise ValueError(
            "must be an origin: scheme and host with an optional port and no path, "
            "like https://www.example.com or http://localhost:8080"
        )
    return value


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an absolute http(s) URL, like https://www.example.com/thank-you")
    return value


Origin = Annotated[str, AfterValidator(_origin)]
Url = Annotated[str, AfterValidator(_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AwsTarget(_Strict):
    """Where the client's stack deploys. Leave out to use the deploying user's defaults."""

    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")


class CaptureSettings(_Strict):
    """How `POST /leads` treats what websites send."""

    allowed_origins: list[Origin] = Field(min_length=1)
    thank_you_url: Url
    error_url: Url | None = None
    honeypot_field: str = Field(default="website", pattern=_FIELD_NAME.pattern)
    max_body_kb: int = Field(default=32, ge=1, le=256)
    max_field_chars: int = Field(default=500, ge=50, le=5000)
    max_message_chars: int = Field(default=5000, ge=100, le=20000)
    max_custom_fields: int = Field(default=30, ge=0, le=30)


class Monitoring(_Strict):
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    log_retention_days: int = Field(default=30)

    @model_validator(mode="after")
    def _retention_is_offered(self) -> Monitoring:
        allowed = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
        if self.log_retention_days not in allowed:
            raise ValueError(f"log_retention_days must be one of {', '.join(map(str, allowed))}")
        return self


class ClientConfig(_Strict):
    name: str = Field(pattern=CLIENT_NAME.pattern)
    display_name: str | None = None
    aws: AwsTarget = AwsTarget()
    capture: CaptureSettings
    monitoring: Monitoring = Monitoring()

    @property
    def stack_name(self) -> str:
        return f"Leads-{self.name}"


class ConfigError(Exception):
    """A client file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"{path}: {len(problems)} {noun} in the client config"]
        lines += [f"  - {p}" for p in problems]
        lines.append("Fix the file and run the command again (`leadflow client new NAME` writes a commented example).")
        super().__init__("\n".join(lines))


def load_client_config(path: str | Path) -> ClientConfig:
    """Read and check one client file; raise ConfigError naming every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["the file does not exist"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    try:
        config = ClientConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(error, text) for error in exc.errors()]) from None
    if config.name != path.stem and path.suffix == ".toml":
        line = _line_of(text, ("name",))
        raise ConfigError(
            path,
            [
                f"{line}name = {config.name!r}: must match the file name ({path.stem!r}), so that "
                f"`-c client={path.stem}` deploys stack Leads-{path.stem}"
            ],
        )
    return config


def _describe(error: Any, text: str) -> str:
    loc = tuple(error["loc"])
    where = _dotted(loc) or "(top level)"
    line = _line_of(text, loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{where}: is required but missing"
    if error["type"] == "extra_forbidden":
        return f"{line}{where}: is not a known setting (check the spelling; see `leadflow client new`)"
    if error["type"] == "string_pattern_mismatch":
        message = f"{message} (for example {_example(loc)})" if _example(loc) else message
    return f"{line}{where} = {error.get('input')!r}: {message}"


def _example(loc: tuple[Any, ...]) -> str | None:
    examples = {"name": "'acme-eu'", "account": "'123456789012'", "region": "'eu-west-1'"}
    return examples.get(str(loc[-1])) if loc else None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(text: str, loc: tuple[Any, ...]) -> str:
    """Best effort 'line N, ' for the key a problem is about: TOML parsers keep no positions."""
    keys = [str(p) for p in loc if not isinstance(p, int)]
    if not keys:
        return ""
    section = ".".join(keys[:-1])
    current = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[([^\[\]]+)\]", line)
        if header:
            current = header.group(1).strip()
            continue
        if current == section and re.match(rf"^{re.escape(keys[-1])}\s*=", line):
            return f"line {number}, "
    return ""


def config_snapshot(config: ClientConfig) -> str:
    """The checked config with every default filled in: the JSON the functions read.

    Synth (and `leadflow local`) write it once; functions read it at cold start without
    paying for pydantic's model build where latency matters (see leadflow.settings).
    """
    return config.model_dump_json(indent=2)


def find_client_files(clients_dir: Path) -> list[Path]:
    return sorted(p for p in clients_dir.glob("*.toml") if not p.name.startswith("_"))
