"""Two `pue-agent run --shard I/2` processes poll one simulated site (over SNMP on loopback) into ONE PostgreSQL
history; `export` and `report` of that site then give the PUE a single unsharded agent, polling the same site at
the same time into its own SQLite file, gives (within 0.5 %). The store-level test with synthetic shards is
tests/history/test_postgres.py; this one is the command line end to end (docs/history.md, Shards)."""

from __future__ import annotations

import asyncio
import csv
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml

from agent.config.site import SiteConfig, load_config
from agent.devices.profiles import ProfileRegistry
from agent.site.shard import shard_of
from twin.serve.site import MinimalSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import free_port, free_udp_range  # noqa: E402

ROOT = TESTS.parent
EXE = Path(sys.executable).with_name("pue-agent")
SITE = "demo-hall"
RUN_S = 16  # each agent's --duration: about ten 1 s site intervals once the site answers

pytestmark = pytest.mark.e2e


@contextmanager
def _site_in_a_thread(cfg: SiteConfig, profiles: ProfileRegistry) -> Iterator[None]:
    """The simulated site in its own thread and event loop, for agents run as `pue-agent run` processes."""
    stop_site = threading.Event()
    ready = threading.Event()

    async def serve() -> None:
        async with MinimalSite(cfg, profiles).serving(tick_s=0.2):
            ready.set()
            while not stop_site.is_set():
                await asyncio.sleep(0.1)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        stop_site.set()
        thread.join(timeout=30)


def _configs(tmp_path: Path, pg_url: str) -> tuple[Path, Path, SiteConfig, ProfileRegistry]:
    """The demo site on loopback at 1 s polls: one config for the shards (PostgreSQL history), one for the single
    agent (SQLite history)."""
    data = yaml.safe_load((ROOT / "configs" / "demo-site.yaml").read_text())
    base = free_udp_range(len(data["devices"]))
    for i, dev in enumerate(data["devices"]):
        # the default timeout: a poll that times out, skipped or still in flight at a site tick makes the
        # intervals around it gaps, not 0 J or twice the energy marked complete (agent/site/energy_span.py)
        dev.update(port=base + i)
    # facility energy from integrated power: the meter's 0.1 kWh register steps about every 2.4 s, so over a
    # few seconds agents polling it at different phases would differ by a step (tests/faults/test_shards.py)
    for term in data["topology"]["facility"]:
        term["energy_quantity"] = "integrated_energy_j"
    data.update(poll_interval_s=1, pue_window_s=60)
    shards, single = tmp_path / "shards.yaml", tmp_path / "single.yaml"
    shards.write_text(yaml.safe_dump({**data, "history": {"url": pg_url}}))
    single.write_text(yaml.safe_dump({**data, "history": {"path": str(tmp_path / "single.sqlite")}}))
    cfg, profiles = load_config(shards)
    assert cfg.site.name == SITE
    return shards, single, cfg, profiles


def _pue_of_export(path: Path) -> tuple[float, float]:
    """(PUE, covered seconds) of an export at 1 min: energies summed over the covered time."""
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if float(r["coverage"]) > 0]
    facility = sum(float(r["facility_energy_kwh"]) for r in rows)
    it = sum(float(r["it_energy_kwh"]) for r in rows)
    covered = sum(float(r["coverage"]) * float(r["interval_s"]) for r in rows)
    assert it > 0, path.read_text()
    return facility / it, covered


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_two_run_shards_into_one_postgres_report_the_single_agents_pue(tmp_path: Path, pg_url: str) -> None:
    shards_yaml, single_yaml, cfg, profiles = _configs(tmp_path, pg_url)
    owners = {shard_of(t.device, 2) for t in (*cfg.topology.facility, *cfg.topology.it)}
    assert owners == {1, 2}, "the site's meters must split across both shards"
    started = datetime.now(UTC)
    ports = {name: free_port() for name in ("shard 1/2", "shard 2/2", "single")}
    # the site answers from the agents' first polls on: a site tick while a poll is in flight (the start-up
    # ones included) makes the intervals around it gaps, rather than counting a poll interval of that meter's
    # energy more or less (was: the single agent's PUE 1.396 against 1.299 over 12 s, all in its first interval)
    with _site_in_a_thread(cfg, profiles):
        runs = {
            name: subprocess.Popen(
                [
                    str(EXE),
                    "run",
                    "--config",
                    str(config),
                    "--listen-port",
                    str(ports[name]),
                    "--duration",
                    f"{RUN_S}",
                    *shard,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, config, shard in (
                ("shard 1/2", shards_yaml, ["--shard", "1/2"]),
                ("shard 2/2", shards_yaml, ["--shard", "2/2"]),
                ("single", single_yaml, []),
            )
        }
        for name, run in runs.items():
            _out, err = run.communicate(timeout=RUN_S + 40)
            assert run.returncode == 0, f"{name}: {err[-2000:]}"
    ended = datetime.now(UTC)
    with psycopg.connect(pg_url) as conn:
        written: dict[str, int] = dict(
            conn.execute("SELECT agent, count(*) FROM site_interval WHERE site = %s GROUP BY agent", (SITE,))
        )
    assert set(written) == {"shard-1-of-2", "shard-2-of-2"} and min(written.values()) >= 5, written

    # whole days (export's --from/--to take an ISO time in their help, but a single time parses as an empty period)
    period = ("--from", started.strftime("%Y-%m-%d"), "--to", ended.strftime("%Y-%m-%d"))
    _cli("export", "--db", pg_url, "--site", SITE, *period, "--resolution", "1min", "--out", str(tmp_path / "pg.csv"))
    _cli("export", "--config", str(single_yaml), *period, "--resolution", "1min", "--out", str(tmp_path / "one.csv"))
    shards_pue, shards_covered_s = _pue_of_export(tmp_path / "pg.csv")
    single_pue, single_covered_s = _pue_of_export(tmp_path / "one.csv")
    assert shards_covered_s >= 5.0 and single_covered_s >= 5.0, (shards_covered_s, single_covered_s)
    assert shards_pue == pytest.approx(single_pue, rel=0.005), (shards_pue, single_pue)
    assert 1.1 < shards_pue < 1.6  # the twin's site: UPS losses, cooling at about 22 % of IT

    # the report over the shared history: its headline PUE (three decimals) is the single agent's
    html = tmp_path / "report.html"
    days = f"{period[1]}..{period[3]}"
    _cli("report", "--db", pg_url, "--site", SITE, "--period", days, "--min-coverage", "1e-6", "--out", str(html))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.read_text()))
    headline = re.search(r"Headline PUE1 over [^:]*\): (\d\.\d{3})\b", text)
    assert headline is not None, text[:2000]
    assert float(headline.group(1)) == pytest.approx(single_pue, rel=0.005), (headline.group(0), single_pue)
