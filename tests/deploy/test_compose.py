"""The example deployment stays runnable: docker-compose.yml, its Prometheus, nginx and Grafana files agree.

No Docker engine runs here, so the files are parsed and cross-checked; where the Docker Compose plugin
is installed, ``docker compose config`` validates the file as well (it needs no engine).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hangup.settings import SETTINGS
from hangup.web.metrics import METRIC_NAMES

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "docker-compose.yml"
HANGUP_NODES = ("hangup-1", "hangup-2")
SERVICES = {"postgres", *HANGUP_NODES, "lb", "prometheus", "grafana"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = load(COMPOSE)
    assert isinstance(document, dict)
    return document


def test_the_expected_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


@pytest.mark.parametrize("node", HANGUP_NODES)
def test_hangup_nodes_share_the_postgres_database(compose: dict[str, Any], node: str) -> None:
    service = compose["services"][node]
    env = service["environment"]
    assert re.fullmatch(r"postgresql://hangup:.+@postgres:5432/hangup", env["HANGUP_DB"])
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert env["HANGUP_HOST"] == "0.0.0.0" and "HANGUP_API_TOKEN" in env  # public listener needs a token
    known = {s.env for s in SETTINGS}
    assert set(env) <= known, f"not hangup settings: {set(env) - known}"
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), f"{name} mounts missing {source}"


def test_the_dockerfile_copies_what_exists() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            sources = line.split()[1:-1]
            if sources[0].startswith("--from="):  # from an earlier stage of the build, which must exist
                assert f" AS {sources[0].removeprefix('--from=')}\n" in dockerfile, line
                continue
            for source in sources:
                assert (ROOT / source).exists(), source


def test_prometheus_scrapes_every_node() -> None:
    config = load(ROOT / "deploy" / "prometheus" / "prometheus.yml")
    (job,) = config["scrape_configs"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert sorted(targets) == [f"{node}:8080" for node in HANGUP_NODES]
    assert job["metrics_path"] == "/metrics"


def test_prometheus_rules_use_only_exported_metrics() -> None:
    rules = load(ROOT / "deploy" / "prometheus" / "rules.yml")
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}
    used = {name for expr in exprs for name in re.findall(r"\bhangup[_:][a-z0-9_:]*", expr)}
    assert used - recorded <= set(METRIC_NAMES), f"unknown metrics: {used - recorded - set(METRIC_NAMES)}"
    assert used & set(METRIC_NAMES)


def test_the_load_balancer_spreads_over_every_node() -> None:
    conf = (ROOT / "deploy" / "compose" / "nginx" / "hangup.conf").read_text()
    assert sorted(re.findall(r"server (hangup-\d+):8080", conf)) == list(HANGUP_NODES)
    assert "non_idempotent" in conf  # callbacks are idempotent, so a failed POST may go to the other node


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    source = load(ROOT / "deploy" / "compose" / "grafana" / "datasource.yml")
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    boards = load(ROOT / "deploy" / "compose" / "grafana" / "dashboards.yml")
    assert boards["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def _compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or Debian's `docker-compose`; both validate a file with no engine running."""
    docker = shutil.which("docker")
    if docker is not None:
        found = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=20, check=False)
        if found.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def test_docker_compose_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip(
            "NO DOCKER COMPOSE: neither `docker compose` nor `docker-compose` is installed "
            "(scripts/ensure-test-tools installs Debian's docker-compose; the YAML checks above still ran)"
        )
    env = {**os.environ, "HANGUP_API_TOKEN": "test-token"}
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
