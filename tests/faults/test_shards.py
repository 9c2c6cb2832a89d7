"""Scale-out: two `pue-agent run --shard I/2` processes split the demo site; a real Prometheus turns their
shard energies into powers and sums them with the recording rules of deploy/prometheus/rules/pue-shards.rules.yml,
and the sharded site PUE equals (within 1 %) the figure of one unsharded agent polling the same simulated site."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from agent.config.site import load_config
from agent.site.shard import Shard, parse_shard, shard_of
from twin.serve.site import MinimalSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import free_port, free_udp_range, sample, scrape  # noqa: E402

ROOT = TESTS.parent
EXE = Path(sys.executable).with_name("pue-agent")
RULES = ROOT / "deploy" / "prometheus" / "rules" / "pue-shards.rules.yml"
WINDOW = "30s"  # the rules' 5m window, shortened for a test that runs under a minute
STALL_S = 5.0  # shard 2 stopped this long: its devices go stale after 2 polls of 1 s


def test_shard_split_is_stable_total_and_disjoint() -> None:
    names = [f"pdu-{i:04d}" for i in range(2000)]
    for n in (1, 2, 3, 7):
        owners = [shard_of(name, n) for name in names]
        assert set(owners) == set(range(1, n + 1))
        counts = [owners.count(i) for i in range(1, n + 1)]
        assert max(counts) - min(counts) < 0.15 * len(names) / n  # roughly even
        for i in range(1, n + 1):
            mine = [x for x, o in zip(names, owners, strict=True) if o == i]
            assert [x for x in names if Shard(i, n).owns(x)] == mine
    # stable across processes and Python versions: SHA-256, not the salted built-in hash
    assert [shard_of(x, 2) for x in ("meter-main", "ups-a", "ups-b", "pdu-r01")] == [2, 2, 1, 1]


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", "-1/2", ""])
def test_bad_shard_arguments(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(text)
    run = subprocess.run(
        [str(EXE), "run", "--config", str(ROOT / "configs" / "demo-site.yaml"), "--shard", text],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and "--shard" in run.stderr


@dataclass(frozen=True)
class _Medians:
    """Medians of paired Prometheus evaluations of the sharded and the single-agent PUE."""

    sharded: float
    single: float
    bare: float  # the bare shard energies summed, then divided: what the rules must not do
    coverage: float  # the lowest shard coverage over the evaluations
    pairs: int

    def __str__(self) -> str:
        return (
            f"sharded site PUE {self.sharded:.4f}, single agent {self.single:.4f}, bare shard energies summed "
            f"{self.bare:.4f}, lowest shard coverage {self.coverage:.3f} (medians of {self.pairs})"
        )

    def check(self) -> None:
        assert self.pairs >= 5, f"too few sharded and single-agent PUEs from Prometheus: {self}"
        assert abs(self.sharded - self.single) / self.single < 0.01, str(self)
        assert 1.1 < self.sharded < 1.6, str(self)


def _pue_medians(prom: str, single_expr: str, settle_s: float, collect_s: float, want: int) -> _Medians:
    """Pairs of (sharded, single) PUE once both exist and ``settle_s`` has passed, for up to ``collect_s``."""
    bare_expr = (
        f'sum(rate(pue_shard_energy_joules_total{{boundary="facility"}}[{WINDOW}])) / '
        f'sum(rate(pue_shard_energy_joules_total{{boundary="it"}}[{WINDOW}]))'
    )
    pairs: list[tuple[float, float, float]] = []
    first_s: float | None = None
    deadline = time.monotonic() + settle_s + collect_s
    coverage = float("inf")
    while time.monotonic() < deadline and len(pairs) < want:
        try:
            a = _query(prom, "site:pue_sharded:ratio_rate5m")
            b = _query(prom, single_expr)
            c = _query(prom, bare_expr)
            cov = _query(prom, "site:pue_shard_complete_seconds:min_rate5m")
        except OSError:
            a = b = c = cov = []
        if a and b and c and cov:
            first_s = first_s if first_s is not None else time.monotonic()
            if time.monotonic() - first_s >= settle_s:
                pairs.append((float(a[0]["value"][1]), float(b[0]["value"][1]), float(c[0]["value"][1])))
                coverage = min(coverage, float(cov[0]["value"][1]))
        time.sleep(1)
    nan = float("nan")
    return _Medians(
        statistics.median(p[0] for p in pairs) if pairs else nan,
        statistics.median(p[1] for p in pairs) if pairs else nan,
        statistics.median(p[2] for p in pairs) if pairs else nan,
        coverage,
        len(pairs),
    )


def _sharded_panel_queries() -> list[tuple[str, str]]:
    """(panel title, query) of the site overview's queries that read the shard records."""
    dashboard = json.loads((ROOT / "grafana" / "dashboards" / "site-overview.json").read_text())
    found = [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "pue_shard" in target.get("expr", "")
    ]
    expected = {"PUE now (5 min, energy)", "PUE 24 h", "PUE 30 days", "IT load", "Power split", "PUE against target"}
    assert {title for title, _ in found} >= expected, found
    return found


def _query(prom: str, expr: str) -> list[dict]:  # type: ignore[type-arg]
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.loads(scrape(url))
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


@pytest.mark.e2e
@pytest.mark.slow
def test_two_shards_give_the_single_agent_site_pue(tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus") or "/usr/bin/prometheus"
    assert Path(prometheus).exists(), "prometheus missing: `make test` installs Debian's prometheus package"
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    base = free_udp_range(len(cfg.devices))
    data = yaml.safe_load((ROOT / "configs" / "demo-site.yaml").read_text())
    for i, dev in enumerate(data["devices"]):
        dev.update(port=base + i, timeout_s=0.5, retries=0)
    data.update(poll_interval_s=1, pue_window_s=60)
    # facility energy from integrated power: the meter's 0.1 kWh register steps about every 2.4 s here,
    # so over the 30 s rate window agents polling it at different phases differ by several per cent
    # (a CI run saw 1.298 vs 1.397); integrated power compares what sharding changes, not where a step fell
    for term in data["topology"]["facility"]:
        term["energy_quantity"] = "integrated_energy_j"
    site_cfg = tmp_path / "site.yaml"
    site_cfg.write_text(yaml.safe_dump(data))
    cfg, profiles = load_config(site_cfg)

    # the simulated site in its own thread and event loop
    stop_site = threading.Event()
    ready = threading.Event()

    def serve_site() -> None:
        async def main() -> None:
            site = MinimalSite(cfg, profiles)
            site.start()
            stop = asyncio.Event()
            task = asyncio.create_task(site.run(stop, tick_s=0.2))
            ready.set()
            while not stop_site.is_set():
                await asyncio.sleep(0.1)
            stop.set()
            await task
            site.stop()

        asyncio.run(main())

    site_thread = threading.Thread(target=serve_site, daemon=True)
    site_thread.start()
    assert ready.wait(10)

    ports = {"single": free_port(), "shard1": free_port(), "shard2": free_port()}
    args = {"single": [], "shard1": ["--shard", "1/2"], "shard2": ["--shard", "2/2"]}
    agents = {
        name: subprocess.Popen(
            [str(EXE), "run", "--config", str(site_cfg), "--listen-port", str(port), *args[name]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, port in ports.items()
    }
    rules = tmp_path / "shards.rules.yml"
    rules.write_text(RULES.read_text().replace("[5m]", f"[{WINDOW}]"))
    prom_port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "scrape_configs": [
                    {
                        "job_name": "pue-shards",
                        "static_configs": [
                            {
                                "targets": [f"127.0.0.1:{ports['shard1']}", f"127.0.0.1:{ports['shard2']}"],
                                "labels": {"site": "demo"},
                            }
                        ],
                    },
                    {
                        "job_name": "pue-single",
                        "static_configs": [{"targets": [f"127.0.0.1:{ports['single']}"], "labels": {"site": "demo"}}],
                    },
                ],
            }
        )
    )
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    prom_url = f"http://127.0.0.1:{prom_port}"
    try:
        # each shard exports only its own devices, shard energy and no site PUE
        deadline = time.monotonic() + 30
        texts: dict[str, str] = {}
        while time.monotonic() < deadline and all(a.poll() is None for a in agents.values()):
            try:
                texts = {n: scrape(f"http://127.0.0.1:{p}/metrics") for n, p in ports.items()}
                if all(sample(t, "pue_device_up") == 1.0 for t in texts.values()):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert len(texts) == 3, "an agent never served /metrics (its stderr is printed below)"
        for index in (1, 2):
            text = texts[f"shard{index}"]
            exported = {
                line.split('device="')[1].split('"')[0]
                for line in text.splitlines()
                if line.startswith("pue_device_up{")
            }
            assert exported == {d.name for d in cfg.devices if shard_of(d.name, 2) == index}
            assert sample(text, "pue_site_realtime_pue") is None and "pue_site_energy_joules" not in text
            assert sample(text, "pue_shard_count") == 2.0
            assert sample(text, "pue_shard_complete_seconds_total") is not None
            assert sample(text, "pue_shard_info", shard=str(index), shards="2") == 1.0
        assert {
            b
            for b in ("facility", "it")
            if sample(texts["shard1"], "pue_shard_energy_joules_total", boundary=b) is not None
        } == {"it"}  # ups-b only
        assert sample(texts["shard2"], "pue_shard_energy_joules_total", boundary="facility") is not None

        single_expr = (
            f'sum by (site) (rate(pue_site_energy_joules_total{{job="pue-single",boundary="facility"}}'
            f'[{WINDOW}])) / sum by (site) (rate(pue_site_energy_joules_total{{job="pue-single",'
            f'boundary="it"}}[{WINDOW}]))'
        )
        # let both windows fill with complete intervals (30 s after the first values), then compare the medians of
        # 15 paired evaluations
        steady = _pue_medians(prom_url, single_expr, settle_s=30, collect_s=90, want=15)
        print(f"\nsteady: {steady}")
        steady.check()
        # the site overview shows a sharded site too: its PUE (5 min, 24 h, 30 days), IT load and power split
        # panels fall back to the shard series (this scrape config's site label is "demo"; the demo config has no
        # cooling boundary); the PUE panels agree with the single agent
        for title, expr in _sharded_panel_queries():
            got = _query(prom_url, expr.replace("$site", "demo"))  # valid PromQL (raises otherwise)
            if 'boundary="cooling"' not in expr:
                assert got and float(got[0]["value"][1]) > 0, (title, expr, got)
            if title.startswith("PUE"):
                value = float(got[0]["value"][1])
                print(f"panel {title!r}: {value:.4f}")
                assert abs(value - steady.single) / steady.single < 0.01, (title, value, str(steady))

        # shard 2 (the meter and ups-a) stalls for longer than its devices stay fresh (2 intervals), as on a
        # loaded machine, so it loses several ticks that shard 1 and the single agent keep: each shard's energy
        # over its own covered seconds still gives the single agent's PUE, while the bare shard energies summed
        # fall below it (a CI run saw 1.273 against 1.294 for one lost tick: printed here, not asserted)
        os.kill(agents["shard2"].pid, signal.SIGSTOP)
        try:
            time.sleep(STALL_S)
        finally:
            os.kill(agents["shard2"].pid, signal.SIGCONT)
        stalled = _pue_medians(prom_url, single_expr, settle_s=4, collect_s=20, want=10)
        print(f"shard 2 stalled {STALL_S:.0f} s: {stalled}")
        assert stalled.coverage < 0.95, stalled  # the stall is in the window
        stalled.check()

        # a shard that disappears makes the sharded PUE disappear, never a partial ratio
        agents["shard1"].terminate()
        agents["shard1"].wait(timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _query(prom_url, "site:pue_sharded:ratio_rate5m"):
            time.sleep(1)
        assert _query(prom_url, "site:pue_sharded:ratio_rate5m") == []
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        errors = {}
        for name, proc in agents.items():
            proc.terminate()
            errors[name] = proc.communicate(timeout=30)[1]
            print(f"--- {name} (exit {proc.returncode}) stderr ---\n{errors[name][-2000:]}")  # shown on failure
        stop_site.set()
        site_thread.join(timeout=30)
    for name, err in errors.items():
        assert "Traceback" not in err, (name, err[-2000:])


def test_a_shard_never_runs_the_recommender(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Shards share the site config; a shard sees a share of the devices, so it must not recommend or write."""
    from agent.app.runtime import Agent
    from agent.config.site import RecommenderConfig

    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    cfg = cfg.model_copy(update={"recommender": RecommenderConfig(mode="auto", action_log=tmp_path / "a.jsonl")})
    whole = Agent(cfg, profiles)
    assert whole.controller is not None
    shard = Agent(cfg, profiles, shard=Shard(1, 2))
    assert shard.controller is None
    assert not [f for f in shard.registry.collect() if f.name.startswith("pue_recommendation")]
    assert "not run in shard mode" in caplog.text
