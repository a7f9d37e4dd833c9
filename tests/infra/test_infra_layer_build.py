"""The Docker-free layer builder: what goes into each layer, when it is rebuilt, what synth refuses."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from infra import layer_build
from leadflow.config import ClientConfig

pytestmark = pytest.mark.infra


@pytest.fixture
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Layers built into a temp dir instead of .build/layers."""
    monkeypatch.setattr(layer_build, "LAYERS_BUILD_DIR", tmp_path / "layers")
    return tmp_path / "layers"


@pytest.fixture
def domain_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small leadflow package with developer tools and byte code beside the domain code."""
    package = tmp_path / "src" / "leadflow"
    for relative in [
        "__init__.py",
        "config.py",
        "scoring/__init__.py",
        "cli/__init__.py",
        "local/server.py",
        "bench.py",
        "definition.py",
        "snippet.py",
        "__pycache__/config.cpython-311.pyc",
        "scoring/__pycache__/rules.cpython-311.pyc",
    ]:
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(f"# {relative}\n")
    monkeypatch.setattr(layer_build, "DOMAIN_PACKAGE_DIR", package)
    return package


@pytest.fixture
def requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    requirements_file = tmp_path / "requirements.txt"
    requirements_file.write_text("pydantic==2.14.3\n")
    monkeypatch.setattr(layer_build, "REQUIREMENTS_FILE", requirements_file)
    return requirements_file


def files_under(directory: Path) -> set[str]:
    return {path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file()}


def test_domain_layer_leaves_out_developer_tools_and_byte_code(build_dir: Path, domain_package: Path) -> None:
    layer_build.build_domain_layer()

    assert files_under(build_dir / "domain") == {
        layer_build.STAMP_FILE,
        "python/leadflow/__init__.py",
        "python/leadflow/config.py",
        "python/leadflow/scoring/__init__.py",
    }


def test_no_module_of_the_domain_layer_imports_a_tool_left_out_of_it() -> None:
    tools = {f"leadflow.{entry.removesuffix('.py')}" for entry in layer_build.DEV_ONLY_ENTRIES}
    imported: dict[str, set[str]] = {}
    for path in layer_build.domain_files():
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found = {n for n in names if any(n == t or n.startswith(t + ".") for t in tools)}
            if found:
                imported[path.name] = found
    assert imported == {}


def test_domain_layer_is_rebuilt_only_when_its_files_change(build_dir: Path, domain_package: Path) -> None:
    assert layer_build.build_domain_layer().startswith("built")
    assert "up to date" in layer_build.build_domain_layer()
    (domain_package / "local" / "server.py").write_text("# a dev tool changed: not in the layer\n")
    assert "up to date" in layer_build.build_domain_layer()

    (domain_package / "config.py").write_text("# changed\n")

    assert layer_build.build_domain_layer().startswith("built")
    assert (build_dir / "domain/python/leadflow/config.py").read_text() == "# changed\n"


def test_client_config_layer_puts_the_checked_config_where_lambda_reads_it(
    build_dir: Path, demo_config: ClientConfig
) -> None:
    layer_dir = layer_build.build_client_config_layer(demo_config)

    # Lambda extracts layers into /opt: this is /opt/leadflow/client.json, LEADFLOW_CLIENT_CONFIG.
    deployed = json.loads((layer_dir / "leadflow" / "client.json").read_text())
    assert deployed["name"] == "demo"
    assert deployed["capture"]["max_custom_fields"] == 30  # defaults are filled in


def test_synth_refuses_a_missing_dependency_layer_and_says_to_run_make_layers(
    build_dir: Path, demo_config: ClientConfig
) -> None:
    with pytest.raises(layer_build.LayerNotBuiltError, match=r"dependency layer not built: run `make layers`"):
        layer_build.layers_for_synth(demo_config)


def test_synth_refuses_a_dependency_layer_older_than_the_requirements(
    build_dir: Path, requirements: Path, demo_config: ClientConfig
) -> None:
    (build_dir / "deps").mkdir(parents=True)
    (build_dir / "deps" / layer_build.STAMP_FILE).write_text("digest of an older requirements.txt\n")

    with pytest.raises(layer_build.LayerNotBuiltError, match=r"older than layers/requirements.txt: run `make layers`"):
        layer_build.layers_for_synth(demo_config)


def test_failed_dependency_build_leaves_the_previous_layer_whole(
    build_dir: Path, requirements: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = build_dir / "deps" / "python" / "pydantic" / "__init__.py"
    previous.parent.mkdir(parents=True)
    previous.write_text("# the layer that works\n")

    def pip_fails_halfway(staging: Path) -> None:
        (staging / "python").mkdir()
        (staging / "python" / "half_installed.py").write_text("")
        raise SystemExit("pip could not build the dependency layer")

    monkeypatch.setattr(layer_build, "_pip_install_for_lambda", pip_fails_halfway)

    with pytest.raises(SystemExit):
        layer_build.build_dependency_layer()

    assert files_under(build_dir / "deps") == {"python/pydantic/__init__.py"}
    assert sorted(path.name for path in build_dir.iterdir()) == ["deps"]


def test_built_dependency_layer_holds_only_arm64_python_3_13_binaries() -> None:
    deps = layer_build.dependency_layer_dir()
    assert deps.is_dir(), "run `make layers` (python infra/layer_build.py) before the infra tests"
    binaries = [path.name for path in deps.rglob("*.so")]
    assert binaries, "expected compiled wheels (pydantic-core) in the dependency layer"
    assert all("aarch64" in name and "cpython-313" in name for name in binaries), binaries
