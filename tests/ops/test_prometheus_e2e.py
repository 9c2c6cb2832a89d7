"""The shipped rules and dashboards against a real Prometheus scraping real agents on loopback.

Two agents (shards) of one site are scraped, as the recording rules expect in production:
``pue-agent demo`` (the digital twin, 22 devices over real SNMP) and ``pue-agent run`` with one PDU
that never answers (poll errors, a device down, a boundary without data). Prometheus loads
deploy/prometheus/prometheus.yml with 1 s scrape and evaluation intervals and the targets replaced.
Then every rule is healthy, every recorded series has data (but the shard-mode rules: these agents run
unsharded), and every dashboard query, with its
template variables filled in as Grafana would, returns data, except those on metrics listed in
opsrefs.RECOMMENDER_METRICS_NOT_YET_EXPORTED and opsrefs.EMPTY_ON_HEALTHY_DEMO.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from netutil import free_port, free_udp_range
from opsrefs import (
    EMPTY_ON_HEALTHY_DEMO,
    PROM_DIR,
    RECOMMENDER_METRICS_NOT_YET_EXPORTED,
    RULE_FILES,
    load_dashboards,
    load_rules,
    metric_names_in,
    panel_targets,
    recorded_names,
    shard_recorded_names,
)

pytestmark = pytest.mark.e2e

SITE = "e2e-site"
PUE_AGENT = Path(sys.executable).with_name("pue-agent")
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
MAY_BE_EMPTY = RECOMMENDER_METRICS_NOT_YET_EXPORTED | EMPTY_ON_HEALTHY_DEMO
#: Grafana's built-in interval variables, as Grafana would set them for a short range at 1 s scrapes
GRAFANA_BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range_s": "3600", "$__range": "1h"}


class PromAPI:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}" if params else f"{self.base}{path}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[Any]:
        return list(self.get("/api/v1/query", query=expr)["result"])

    def query_range(self, expr: str, seconds: int = 30, step: str = "2") -> list[Any]:
        now = time.time()
        return list(
            self.get("/api/v1/query_range", query=expr, start=str(now - seconds), end=str(now), step=step)["result"]
        )

    def label_values(self, label: str, selector: str) -> list[str]:
        return list(self.get(f"/api/v1/label/{label}/values", **{"match[]": selector}))


def _wait(what: str, predicate: Any, timeout_s: float, procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                log = Path(p.stdout_log) if hasattr(p, "stdout_log") else None  # type: ignore[attr-defined]
                tail = log.read_text()[-2000:] if log else ""
                raise AssertionError(f"{p.args[:2]} exited with {p.returncode}:\n{tail}")
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _dead_udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)


def _shard_config(path: Path, listen_port: int) -> Path:
    """A second agent of the same site whose two devices never answer."""
    cfg = {
        "site": {"name": "e2e-shard-b", "pue_target": 1.3},
        "poll_interval_s": 1,
        "pue_window_s": 60,
        "listen": {"address": "127.0.0.1", "port": listen_port},
        "credentials": {"v2c": {"version": "2c", "community": "e2e-community"}},
        "devices": [
            {
                "name": "meter-dead",
                "address": "127.0.0.1",
                "port": _dead_udp_port(),
                "credentials": "v2c",
                "profile": "janitza-umg",
                "role": "utility_meter",
                "zone": "hall-2",
                "timeout_s": 0.2,
                "retries": 0,
            },
            {
                "name": "pdu-dead",
                "address": "127.0.0.1",
                "port": _dead_udp_port(),
                "credentials": "v2c",
                "profile": "apc-rpdu2",
                "role": "pdu",
                "zone": "hall-2",
                "timeout_s": 0.2,
                "retries": 0,
            },
        ],
        "topology": {
            "it_category": 2,
            "facility": [{"device": "meter-dead"}],
            "it": [{"device": "pdu-dead"}],
        },
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _prometheus_config(path: Path, targets: list[str]) -> Path:
    """The shipped prometheus.yml with 1 s intervals, absolute rule paths and loopback targets."""
    cfg = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    cfg["rule_files"] = [str(p) for p in RULE_FILES]
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "pue-agent"]
    job["static_configs"] = [{"targets": targets, "labels": {"site": SITE}}]
    cfg["scrape_configs"] = [job]
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromAPI]:
    if not Path(PROMETHEUS).exists():
        pytest.fail("prometheus missing: `make test` installs Debian's prometheus package")
    tmp = tmp_path_factory.mktemp("prom-e2e")
    demo_port, shard_port, prom_port = free_port(), free_port(), free_port()
    logs = {name: (tmp / f"{name}.log").open("w") for name in ("demo", "shard", "prometheus")}
    procs: list[subprocess.Popen[str]] = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    str(PUE_AGENT),
                    "demo",
                    "--duration",
                    "150",
                    "--speed",
                    "1",
                    "--base-port",
                    str(free_udp_range(22)),
                    "--listen-port",
                    str(demo_port),
                    "--truth-file",
                    str(tmp / "truth.json"),
                    "--history",  # not the user's shared state dir (another run may be writing it)
                    str(tmp / "history.sqlite"),
                ],
                stdout=logs["demo"],
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    str(PUE_AGENT),
                    "run",
                    "--duration",
                    "150",
                    "--config",
                    str(_shard_config(tmp / "shard.yaml", shard_port)),
                ],
                stdout=logs["shard"],
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
        config = _prometheus_config(tmp / "prometheus.yml", [f"127.0.0.1:{demo_port}", f"127.0.0.1:{shard_port}"])
        procs.append(
            subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                stdout=logs["prometheus"],
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
        for proc, name in zip(procs, logs, strict=True):
            proc.stdout_log = str(tmp / f"{name}.log")  # type: ignore[attr-defined]
        api = PromAPI(f"http://127.0.0.1:{prom_port}")
        _wait(
            "Prometheus ready",
            lambda: urllib.request.urlopen(f"{api.base}/-/ready", timeout=2).status == 200,
            30,
            procs,
        )
        # the twin needs ~15 s before its first poll; energy counters then grow every 5 s poll
        _wait(
            "a site PUE from the energy counters",
            lambda: any(float(s["value"][1]) > 1 for s in api.query("site:pue:ratio_rate5m")),
            75,
            procs,
        )
        yield api
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in logs.values():
            f.close()


def _eventually_empty(check: Any, items: list[Any], timeout_s: float) -> list[Any]:
    """Items for which ``check`` still fails after retrying for up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    failing = list(items)
    while failing:
        failing = [item for item in failing if not check(item)]
        if not failing or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    return failing


def test_rules_are_loaded_and_healthy(prom: PromAPI) -> None:
    groups = prom.get("/api/v1/rules")["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    expected = {r.get("record") or r["alert"] for r in load_rules()}
    assert set(loaded) == expected
    unhealthy = _eventually_empty(
        lambda n: (
            prom.get("/api/v1/rules")["groups"]
            and all(
                r["health"] == "ok" for g in prom.get("/api/v1/rules")["groups"] for r in g["rules"] if r["name"] == n
            )
        ),
        sorted(expected),
        10,
    )
    details = {
        r["name"]: r.get("lastError")
        for g in prom.get("/api/v1/rules")["groups"]
        for r in g["rules"]
        if r["name"] in unhealthy
    }
    assert not unhealthy, details


def test_every_recording_rule_produces_a_series(prom: PromAPI) -> None:
    names = sorted(recorded_names() - shard_recorded_names())  # the demo's one agent is not sharded
    assert names and shard_recorded_names() <= recorded_names()
    empty = _eventually_empty(lambda name: bool(prom.query(f'{name}{{site="{SITE}"}}')), names, 20)
    assert not empty, f"recorded series without data: {empty}"
    pue = float(prom.query(f'site:pue:ratio_rate5m{{site="{SITE}"}}')[0]["value"][1])
    assert 1.0 < pue < 3.0, pue


def test_the_dead_device_is_down_and_its_alert_pending(prom: PromAPI) -> None:
    (down,) = prom.query('pue_device_up{device="pdu-dead"}')
    assert down["value"][1] == "0" and down["metric"]["site"] == SITE
    assert prom.query('sum(pue_device_poll_errors_total{device="pdu-dead"})')
    missing = _eventually_empty(
        lambda _: any(
            a["labels"]["alertname"] == "PueDeviceDown" and a["labels"]["device"] == "pdu-dead"
            for a in prom.get("/api/v1/alerts")["alerts"]
        ),
        ["PueDeviceDown"],
        10,
    )
    assert not missing


def _grafana_format(values: list[str]) -> str:
    """A multi-value / All variable as Grafana's Prometheus datasource interpolates it."""
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _fill(expr: str, values: dict[str, str]) -> str:
    for name, value in GRAFANA_BUILTINS.items():
        expr = expr.replace(name, value)
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(f"${{{name}}}", values[name]).replace(f"${name}", values[name])
    assert "$" not in expr, f"unfilled variable in {expr}"
    return expr


def _variables(prom: PromAPI, dashboard: dict[str, Any]) -> dict[str, str]:
    """Resolve the dashboard's variables in order, as Grafana does, selecting All."""
    values: dict[str, str] = {}
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            metric, label = re.fullmatch(r"label_values\((.*), (\w+)\)", var["query"]["query"]).groups()  # type: ignore[union-attr]
            found = prom.label_values(label, _fill(metric, values))
            assert found, f"variable {var['name']} has no values"
            values[var["name"]] = _grafana_format(found)
        elif var["type"] in {"textbox", "constant", "custom"}:
            values[var["name"]] = var["query"]
    return values


DASHBOARDS = load_dashboards()


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_query_returns_data(prom: PromAPI, name: str) -> None:
    dashboard = DASHBOARDS[name]
    values = _variables(prom, dashboard)
    assert SITE in values["site"]
    queries = []
    for panel, target in panel_targets(dashboard):
        if metric_names_in(target["expr"]) & MAY_BE_EMPTY:
            continue
        queries.append((panel["title"], target["refId"], _fill(target["expr"], values), target.get("instant", False)))
    assert queries

    def has_data(q: tuple[str, str, str, bool]) -> bool:
        _, _, expr, instant = q
        result = prom.query(expr) if instant else prom.query_range(expr)
        return bool(result)

    empty = _eventually_empty(has_data, queries, 15)
    assert not empty, "panel queries without data:\n" + "\n".join(f"  {t} [{r}]: {e}" for t, r, e, _ in empty)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_queries_that_may_be_empty_and_annotations_are_valid_promql(prom: PromAPI, name: str) -> None:
    """What the data check above skips (writes and reverts never happen in advise mode) still has to parse and
    evaluate: Prometheus answers 400 to a bad query, which PromAPI raises."""
    dashboard = DASHBOARDS[name]
    values = _variables(prom, dashboard)
    exprs = [t["expr"] for _p, t in panel_targets(dashboard) if metric_names_in(t["expr"]) & MAY_BE_EMPTY]
    exprs += [a["expr"] for a in dashboard["annotations"]["list"]]
    for expr in exprs:
        prom.query_range(_fill(expr, values))


def test_energy_cost_by_tariff_period_is_exported(prom: PromAPI) -> None:
    """The twin's config has a tariff: the demo agent counts facility energy cost by period, and the price now."""
    missing = _eventually_empty(
        lambda _: any(float(s["value"][1]) > 0 for s in prom.query(f'pue_site_energy_cost_cny_total{{site="{SITE}"}}')),
        ["cost"],
        20,
    )
    assert not missing, "no energy cost counted"
    periods = {s["metric"]["period"] for s in prom.query(f'pue_site_energy_cost_cny_total{{site="{SITE}"}}')}
    assert periods == {"peak", "flat", "valley"}
    (price,) = prom.query(f'pue_site_tariff_price_cny_per_kwh{{site="{SITE}"}}')
    assert price["metric"]["period"] in periods and 0 < float(price["value"][1]) < 2
