"""docker-compose.yml (the production deployment) against the Compose Specification's JSON schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from sinks.config import ROLES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"  # source and checksum: tests/data/README.md


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    Draft201909Validator.check_schema(schema)
    errors = sorted(Draft201909Validator(schema).iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_rejects_what_compose_rejects() -> None:
    """The validation has teeth: a misspelt service key fails it."""
    validator = Draft201909Validator(json.loads(SCHEMA.read_text()))
    broken = _compose()
    broken["services"]["kafka"]["imag"] = broken["services"]["kafka"].pop("image")
    assert list(validator.iter_errors(broken))


def test_services_and_commands() -> None:
    services = _compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    assert "grafana-clickhouse-datasource" in services["grafana"]["environment"]["GF_PLUGINS_PREINSTALL"]
    # the app services run the very commands of the local CLI
    assert services["streams"]["command"] == ["motcua", "streams", "worker"]
    assert services["migrate"]["command"] == ["motcua", "db", "migrate"]
    assert services["ingest"]["command"] == ["motcua", "ingest", "serve"]
    assert services["topics"]["command"] == ["motcua", "stack", "topics"]
    assert services["notify"]["command"] == ["motcua", "notify"]  # the service when given no sub-command
    for app in ("streams", "sink-live", "sink-archive", "migrate", "ingest", "topics", "notify"):
        assert services[app]["environment"]["MOTCUA_KAFKA_BOOTSTRAP"] == "kafka:9092"


def test_the_app_image_holds_every_package_the_project_installs() -> None:
    """No Docker engine here: check that the Dockerfile compose builds copies every package of pyproject."""
    import tomllib

    assert all(s.get("build", {}).get("context") in (None, ".") for s in _compose()["services"].values())
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = {src for line in dockerfile.splitlines() if line.startswith("COPY ") for src in line.split()[1:-1]}
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    wanted = {name.rstrip("*") for name in packages["include"]}
    assert wanted <= copied, f"the Dockerfile does not copy {sorted(wanted - copied)}"
    assert {"pyproject.toml", "README.md"} <= copied


def test_the_sinks_land_every_topic_once_after_the_schema() -> None:
    """The sinks split the five topics between them (none twice, none left out) and start after ``migrate``."""
    services = _compose()["services"]
    sinks = {name: s["command"] for name, s in services.items() if s.get("command", [])[:2] == ["motcua", "sink"]}
    assert set(sinks) == {"sink-live", "sink-archive"}
    landed = [topic for command in sinks.values() for topic in command[command.index("--topics") + 1].split(",")]
    assert sorted(landed) == sorted(ROLES)
    groups = [c[c.index("--group") + 1] if "--group" in c else "the default" for c in sinks.values()]
    assert len(set(groups)) == len(groups), "each sink in its own consumer group"
    for name, command in sinks.items():
        assert "--no-migrate" in command, f"{name} would race the migrate service"
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


@pytest.mark.parametrize("service", ["streams", "sink-live", "sink-archive", "migrate", "ingest", "topics"])
def test_every_app_service_runs_a_command_not_a_group(service: str) -> None:
    """A command group (``motcua streams``) would print its usage and exit 2: the container would never run."""
    command = _compose()["services"][service]["command"]
    motcua = Path(sys.executable).parent / command[0]
    shown = subprocess.run([str(motcua), *command[1:], "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    usage = next(line for line in shown.stdout.splitlines() if "Usage:" in line)
    assert "COMMAND [ARGS]" not in usage, usage
