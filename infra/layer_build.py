"""Build the Lambda layers without Docker, into `.build/layers/`, only when their inputs change.

    python infra/layer_build.py            # what `make layers` runs

Two layers are shared by every function:

- deps:   third-party packages from `layers/requirements.txt`, installed by pip as arm64 /
          CPython 3.13 wheels (`--platform manylinux2014_aarch64 --only-binary=:all:`), so no
          Docker and no compiler is needed. Rebuilt when the file's sha256 changes.
- domain: the `leadflow` package without its tools (`cli`, `local`, `bench.py`, `definition.py`, `snippet.py`).
          Rebuilt when any file that goes into it changes.

A third, tiny layer per client holds its checked config as JSON (every default filled in),
so that the functions find it at `/opt/leadflow/client.json` (see
`leadflow.definition.DEPLOYED_CLIENT_CONFIG` and `leadflow.config.config_snapshot`).

Every layer is built in a temporary directory beside its target and renamed into place when
complete, so a failed build never leaves half a layer behind. `cdk synth` calls
`layers_for_synth()`, which copies local files but never runs pip nor touches the network:
a missing or stale dependency layer stops synth and says to run `make layers`.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from leadflow.config import ClientConfig, config_snapshot, load_client_config

REPO_ROOT = Path(__file__).resolve().parents[1]
LAYERS_BUILD_DIR = REPO_ROOT / ".build" / "layers"
REQUIREMENTS_FILE = REPO_ROOT / "layers" / "requirements.txt"
DOMAIN_PACKAGE_DIR = REPO_ROOT / "layers" / "leadflow"

# Written inside a built layer directory: the sha256 of the inputs it was built from.
STAMP_FILE = ".inputs.sha256"

# Lambda's Python 3.13 on arm64 (Graviton), whatever machine builds the layer.
LAMBDA_PLATFORM = (
    "--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13",
)  # fmt: skip

# Tools around the domain inside the leadflow package, which never run in Lambda: the CLI, the local
# runtime, the benches, the deploy definition (read by infra/ and local/) and the website snippet (CLI).
DEV_ONLY_ENTRIES = frozenset(
    {
        "cli",
        "local",
        "bench.py",
        "bench_routing.py",
        "bench_nurture.py",
        "bench_report.py",
        "definition.py",
        "snippet.py",
    }
)
NEVER_SHIPPED = frozenset({"__pycache__"})


class LayerNotBuiltError(RuntimeError):
    """A layer that synth needs is missing or older than its inputs."""


@dataclass(frozen=True)
class LayerPaths:
    """Asset directories, laid out as Lambda extracts them under /opt."""

    dependencies: Path  # holds python/<packages>
    domain: Path  # holds python/leadflow/
    client_config: Path  # holds leadflow/client.json


def dependency_layer_dir() -> Path:
    return LAYERS_BUILD_DIR / "deps"


def domain_layer_dir() -> Path:
    return LAYERS_BUILD_DIR / "domain"


def client_config_layer_dir(client: str) -> Path:
    return LAYERS_BUILD_DIR / f"client-{client}"


# --- what each layer is built from -------------------------------------------------------


def requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS_FILE.read_bytes()).hexdigest()


def domain_files() -> Iterator[Path]:
    """The files of the leadflow package that run in Lambda."""
    for path in sorted(DOMAIN_PACKAGE_DIR.rglob("*")):
        relative = path.relative_to(DOMAIN_PACKAGE_DIR)
        if relative.parts[0] in DEV_ONLY_ENTRIES or NEVER_SHIPPED.intersection(relative.parts):
            continue
        if path.is_file() and path.suffix != ".pyc":
            yield path


def domain_digest() -> str:
    digest = hashlib.sha256()
    for path in domain_files():
        digest.update(path.relative_to(DOMAIN_PACKAGE_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def built_digest(layer_dir: Path) -> str | None:
    stamp = layer_dir / STAMP_FILE
    return stamp.read_text().strip() if stamp.is_file() else None


# --- building ----------------------------------------------------------------------------


def _build_atomically(target: Path, digest: str, fill: Callable[[Path], None]) -> None:
    """Fill a fresh directory, stamp it with `digest`, then swap it in for `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-building-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; Lambda reads /opt as another user
    try:
        fill(staging)
        (staging / STAMP_FILE).write_text(digest + "\n")
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
            target.rename(retired / target.name)
            staging.rename(target)
            shutil.rmtree(retired)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pip_install_for_lambda(staging: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        *LAMBDA_PLATFORM, "--only-binary=:all:",
        "--target", str(staging / "python"), "-r", str(REQUIREMENTS_FILE),
    ]  # fmt: skip
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"pip could not build the dependency layer (exit {result.returncode}); the old one is untouched"
        )


def _copy_domain_package(staging: Path) -> None:
    for source in domain_files():
        destination = staging / "python" / "leadflow" / source.relative_to(DOMAIN_PACKAGE_DIR)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def build_dependency_layer(*, force: bool = False) -> str:
    """pip-install layers/requirements.txt for Lambda (arm64, CPython 3.13) unless up to date."""
    target, digest = dependency_layer_dir(), requirements_digest()
    if not force and built_digest(target) == digest:
        return f"dependency layer is up to date ({_shown(target)})"
    _build_atomically(target, digest, _pip_install_for_lambda)
    return f"built dependency layer from layers/requirements.txt into {_shown(target)}"


def build_domain_layer(*, force: bool = False) -> str:
    """Copy the leadflow package, without its developer tools, unless up to date."""
    target, digest = domain_layer_dir(), domain_digest()
    if not force and built_digest(target) == digest:
        return f"domain layer is up to date ({_shown(target)})"
    _build_atomically(target, digest, _copy_domain_package)
    return f"built domain layer from layers/leadflow into {_shown(target)}"


def build_client_config_layer(config: ClientConfig) -> Path:
    """Place the client's checked config where the functions read it: /opt/leadflow/client.json."""
    target = client_config_layer_dir(config.name)
    deployed_file = target / "leadflow" / "client.json"
    content = config_snapshot(config).encode()
    if deployed_file.is_file() and deployed_file.read_bytes() == content:
        return target

    def write_client_file(staging: Path) -> None:
        (staging / "leadflow").mkdir()
        (staging / "leadflow" / "client.json").write_bytes(content)

    _build_atomically(target, hashlib.sha256(content).hexdigest(), write_client_file)
    return target


def ensure_layers(*, force: bool = False) -> list[str]:
    """Build whatever shared layer is missing or stale; return one line per layer."""
    return [build_dependency_layer(force=force), build_domain_layer(force=force)]


# --- used while synthesizing: local copies only, never pip nor the network --------------


def layers_for_synth(config: ClientConfig) -> LayerPaths:
    """The layer directories for one client's stack, or LayerNotBuiltError saying what to run."""
    dependencies = dependency_layer_dir()
    built = built_digest(dependencies)
    if built is None:
        raise LayerNotBuiltError(f"dependency layer not built: run `make layers` (expected {dependencies})")
    if built != requirements_digest():
        raise LayerNotBuiltError(
            "dependency layer is older than layers/requirements.txt: run `make layers` to rebuild it"
        )
    build_domain_layer()
    return LayerPaths(
        dependencies=dependencies,
        domain=domain_layer_dir(),
        client_config=build_client_config_layer(config),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda layers into .build/layers without Docker.")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs have not changed")
    parser.add_argument(
        "--clients-dir",
        type=Path,
        default=REPO_ROOT / "clients",
        help="also place every client's config layer (default: clients/)",
    )
    args = parser.parse_args(argv)
    for line in ensure_layers(force=args.force):
        print(line)
    client_files = sorted(p for p in args.clients_dir.glob("*.toml") if not p.name.startswith("_"))
    for client_file in client_files:
        target = build_client_config_layer(load_client_config(client_file))
        print(f"client config layer for {client_file.stem} is in {_shown(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
