"""Deployment files: Prometheus config, docker compose, Dockerfile, systemd unit, example site config.
Docker is not run here; the compose file is parsed and every file it mounts or builds from must exist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from opsrefs import DEPLOY, PROM_DIR, ROOT, RULE_FILES

COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
AGENT_PORT = 10330
PUE_AGENT = Path(sys.executable).with_name("pue-agent")


def test_prometheus_config_passes_promtool_check_config() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make test` installs Debian's prometheus package"
    out = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=PROM_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(RULE_FILES)} rule files found" in out.stdout


def test_prometheus_scrapes_the_agent_service_with_a_site_label() -> None:
    cfg = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "pue-agent"]
    (static,) = job["static_configs"]
    assert static["targets"] == [f"agent:{AGENT_PORT}"]
    assert static["labels"]["site"]


def _host_paths(service: dict[str, object]) -> list[str]:
    paths = []
    for volume in service.get("volumes", []):  # type: ignore[attr-defined]
        source = str(volume).split(":")[0]
        if source.startswith((".", "/")):
            paths.append(source)
    return paths


def test_compose_file_references_only_existing_files() -> None:
    assert set(COMPOSE["services"]) == {"agent", "prometheus", "grafana"}
    for name, service in COMPOSE["services"].items():
        for source in _host_paths(service):
            assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        if "build" in service:
            context = DEPLOY / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).is_file()
            assert (context / "pyproject.toml").is_file()
        for dep in service.get("depends_on", []):
            assert dep in COMPOSE["services"]
    named = {
        v.split(":")[0]
        for s in COMPOSE["services"].values()
        for v in s.get("volumes", [])
        if not v.startswith((".", "/"))
    }
    assert named <= set(COMPOSE.get("volumes", {}))


def test_compose_wires_agent_prometheus_and_grafana() -> None:
    services = COMPOSE["services"]
    assert f"{AGENT_PORT}:{AGENT_PORT}" in services["agent"]["ports"]
    assert "./site.yaml:/etc/pue-agent/site.yaml:ro" in services["agent"]["volumes"]
    prom_mounts = services["prometheus"]["volumes"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in prom_mounts
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    datasource = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    host = re.match(r"http://([^:/]+)", datasource["datasources"][0]["url"])
    assert host and host.group(1) in services


def test_dockerfile_installs_the_package_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1] not in {"root", "0"}
    assert 'CMD ["run", "--config", "/etc/pue-agent/site.yaml"]' in text
    assert 'ENTRYPOINT ["pue-agent"]' in text
    assert f"EXPOSE {AGENT_PORT}" in text
    for source in re.findall(r"^COPY (\S+)", text, re.M):
        assert (ROOT / source).exists(), source


def test_example_site_config_is_valid_and_listens_for_the_container_network() -> None:
    out = subprocess.run(
        [str(PUE_AGENT), "check-config", str(DEPLOY / "site.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    site = yaml.safe_load((DEPLOY / "site.yaml").read_text())
    assert site["listen"] == {"address": "0.0.0.0", "port": AGENT_PORT}


UNIT = DEPLOY / "systemd" / "pue-agent.service"


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def test_systemd_unit_is_hardened() -> None:
    s = _unit_settings()
    expected = {
        "Service.DynamicUser": "yes",
        "Service.ProtectSystem": "strict",
        "Service.ProtectHome": "yes",
        "Service.PrivateTmp": "yes",
        "Service.NoNewPrivileges": "yes",
        "Service.CapabilityBoundingSet": "",
        "Service.RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "Service.StateDirectory": "pue-agent",
    }
    for key, value in expected.items():
        assert s.get(key) == [value], key
    assert s["Service.ExecStart"][0].endswith("pue-agent run --config ${CREDENTIALS_DIRECTORY}/site.yaml")
    assert s["Service.LoadCredential"] == ["site.yaml:/etc/pue-agent/site.yaml"]
    assert s["Install.WantedBy"] == ["multi-user.target"]


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd): unit not verified")
    # verify checks that ExecStart exists: point it at this venv's pue-agent instead of /opt/pue-agent
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/pue-agent/bin/pue-agent", str(PUE_AGENT)))
    out = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out.stdout + out.stderr
