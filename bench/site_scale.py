"""A whole agent at site scale: `pue-agent run` polling N devices, scraped like Prometheus would.

bench/poll.py measures the SNMP read alone; this runs the real CLI (`pue-agent run --config`) with
everything a site has switched on: scheduler, canonical readings, live and energy PUE, the SQLite
history store and the Prometheus collectors. Devices are APC rPDU2s (the objects of the real AP8853
recording) served by net-snmp's snmpd on N loopback UDP ports (bench/poll.py's responder); the
topology sums the first half as facility and the rest as IT power, so every poll feeds the PUE path.

The bench scrapes /metrics every 2/3 of the poll interval (Prometheus scrapes on its own interval;
``--scrape-every``), and prints per N:
- agent CPU (cores) over the steady window, and CPU ms per device-poll including the scrapes: per poll due
  (N x window / interval) and per poll done (a device's last success time moved between two scrapes; on a
  loaded machine where polls fall behind, only the second says what a poll costs);
- RSS at the end, its growth from the first measured scrape to the end (leaks show here), and RSS
  per device from the difference between the sizes run;
- poll-to-metric latency: the devices' `pue_device_poll_duration_seconds` (collectors read the
  agent's state at scrape time, so a reading is exported the moment its poll finishes), p50/p99/max;
- devices whose last successful poll is older than interval + 2 s at a scrape ("late"), and failures;
- /metrics scrape time and size;
- the same latency for the polls that started while a scrape was being served ("polls in scrape": a
  device's last success time, read at the next scrape, inside the window of the one before).

    .venv/bin/python bench/site_scale.py                            # N = 1000 and 10000, v2c, 15 s interval
    .venv/bin/python bench/site_scale.py --devices 200 --steady 30  # quick smoke run
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "bench"))
sys.path.append(str(ROOT / "tests"))

from netutil import free_port, free_udp_range  # noqa: E402
from poll import COMMUNITY, PROFILE, V3, Snmpd, _proc_cpu_s, _profile_columns  # noqa: E402

_SAMPLE = re.compile(
    r"^(pue_device_poll_duration_seconds|pue_device_last_success_timestamp_seconds)"
    r'\{device="([^"]+)"\} (\S+)$',
    re.M,
)


def site_yaml(n: int, base_port: int, version: str, interval_s: float, history: Path) -> str:
    cred = (
        "  bench:\n    version: 2c\n    community: " + COMMUNITY + "\n"
        if version == "v2c"
        else f'  bench:\n    version: "3"\n    user: {V3[0]}\n    auth_protocol: sha256\n    auth_key: {V3[1]}\n'
        f"    priv_protocol: aes128\n    priv_key: {V3[2]}\n"
    )
    devices = "".join(
        f"  - {{name: pdu-{i:05d}, address: 127.0.0.1, port: {base_port + i}, credentials: bench, "
        f"profile: {PROFILE}, role: pdu, zone: hall-{i // 1000}, timeout_s: 5, retries: 1}}\n"
        for i in range(n)
    )
    half = max(1, n // 2)  # a device may feed only one side: first half "facility", rest IT (PUE 1.0)
    facility = "".join(f"    - {{device: pdu-{i:05d}}}\n" for i in range(half))
    it = "".join(f"    - {{device: pdu-{i:05d}}}\n" for i in range(half, n)) or facility
    return (
        f"site:\n  name: bench-{n}\npoll_interval_s: {interval_s}\npue_window_s: {max(60.0, 4 * interval_s)}\n"
        f"listen:\n  address: 127.0.0.1\n  port: 1\nhistory:\n  path: {history}\n"
        f"credentials:\n{cred}devices:\n{devices}topology:\n  it_category: 2\n  facility:\n{facility}  it:\n{it}"
    )


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _q(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def run_case(
    n: int,
    version: str,
    interval_s: float,
    warmup_s: float,
    steady_s: float,
    workdir: Path,
    columns: list[str],
    keep_logs: Path | None = None,
    ports: tuple[int, int] = (20000, 60000),
    scrape_every_s: float | None = None,
) -> dict[str, float]:
    base = free_udp_range(n, start=ports[0], stop=ports[1], tcp=False)
    snmpd = Snmpd(base, n, workdir, columns)
    cfg = workdir / f"site-{n}-{version}.yaml"
    cfg.write_text(site_yaml(n, base, version, interval_s, workdir / f"history-{n}-{version}.sqlite"))
    port = free_port()
    exe = Path(sys.executable).parent / "pue-agent"
    log = open(workdir / f"agent-{n}-{version}.log", "w")
    agent = subprocess.Popen(
        [str(exe), "run", "--config", str(cfg), "--listen-port", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 120
        while True:  # wait for the HTTP endpoint
            if agent.poll() is not None:
                raise RuntimeError(
                    f"pue-agent exited {agent.returncode}: {(workdir / f'agent-{n}-{version}.log').read_text()[-2000:]}"
                )
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        time.sleep(warmup_s)
        cpu0, t0 = _proc_cpu_s(agent.pid), time.monotonic()
        durations: list[float] = []
        during: list[float] = []  # polls that started while the previous scrape was being served
        window: tuple[float, float] | None = None
        late = scrapes = 0
        scrape_s: list[float] = []
        rss_samples: list[float] = []
        size = 0
        previous: dict[str, float] = {}
        done = 0  # polls that completed between the first and the last scrape
        cpu_first = cpu_last = wall_first = wall_last = 0.0
        while time.monotonic() - t0 < steady_s:
            time.sleep(scrape_every_s or interval_s)
            s0, w0 = time.perf_counter(), time.time()
            body = urllib.request.urlopen(url, timeout=60).read().decode()
            scrape_s.append(time.perf_counter() - s0)
            cpu_last, wall_last = _proc_cpu_s(agent.pid), time.monotonic()
            if not scrape_s[1:]:
                cpu_first, wall_first = cpu_last, wall_last
            size = len(body)
            now = time.time()
            seen = 0
            started: dict[str, float] = {}
            for metric, device, value in _SAMPLE.findall(body):
                if metric == "pue_device_poll_duration_seconds":
                    durations.append(float(value))
                    if window is not None and window[0] <= started.get(device, -1.0) <= window[1]:
                        during.append(float(value))
                else:
                    seen += 1
                    started[device] = float(value)
                    late += now - float(value) > interval_s + 2.0
            window = (w0, now)
            if previous:
                done += sum(1 for d, t in started.items() if previous.get(d, t) != t)
            previous = started
            late += n - seen  # never polled successfully
            scrapes += 1
            rss_samples.append(_rss_mb(agent.pid))
        cpu, wall = _proc_cpu_s(agent.pid) - cpu0, time.monotonic() - t0
        rss = _rss_mb(agent.pid)
        failures = sum(float(v) for v in re.findall(r"^pue_device_poll_errors_total\{[^}]*\} (\S+)$", body, re.M))
        durations.sort()
        during.sort()
        polls = n * wall / interval_s
        return {
            "cores": cpu / wall,
            "cpu_ms_per_poll": 1000 * cpu / polls,
            "polls_done_per_s": done / (wall_last - wall_first) if wall_last > wall_first else float("nan"),
            "cpu_ms_per_done_poll": 1000 * (cpu_last - cpu_first) / done if done else float("nan"),
            "rss_mb": rss,
            "rss_growth_mb": rss - rss_samples[0],
            "polls": polls,
            "p50_ms": 1000 * _q(durations, 0.5),
            "p99_ms": 1000 * _q(durations, 0.99),
            "max_ms": 1000 * (durations[-1] if durations else float("nan")),
            "scraping_polls": len(during),
            "scraping_p50_ms": 1000 * _q(during, 0.5),
            "scraping_p99_ms": 1000 * _q(during, 0.99),
            "late_share": late / max(1, n * scrapes),
            "failures": failures,
            "scrape_ms": 1000 * statistics.median(scrape_s),
            "scrape_mb": size / 2**20,
        }
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=60)
        except subprocess.TimeoutExpired:
            agent.kill()
        log.close()
        snmpd.stop()
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(workdir / f"agent-{n}-{version}.log", keep_logs / f"agent-{n}-{version}.log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, action="append", help="N devices (repeatable; default 1000, 10000)")
    parser.add_argument("--version", choices=("v2c", "v3"), action="append", help="SNMP version (repeatable)")
    parser.add_argument("--interval", type=float, default=15.0, help="poll interval, seconds (15)")
    parser.add_argument("--warmup", type=float, default=45.0, help="seconds before measuring (45)")
    parser.add_argument("--steady", type=float, default=120.0, help="seconds measured (120)")
    parser.add_argument("--keep-logs", type=Path, help="copy each run's agent log into this directory")
    parser.add_argument(
        "--scrape-every",
        type=float,
        help="seconds between scrapes (default: 2/3 of the interval; Prometheus scrapes on its own interval, and "
        "at exactly the poll interval a poll started during one scrape is always polled again before the next, "
        "so 'polls in scrape' would see none)",
    )
    parser.add_argument(
        "--udp-ports",
        default="20000:60000",
        help="START:STOP of the devices' UDP ports (20000:60000; a busy machine's ephemeral ports may leave no "
        "block of N free there: try 2000:22000)",
    )
    args = parser.parse_args(argv)
    sizes = sorted(args.devices or [1000, 10000])
    if any(n < 1 for n in sizes) or args.interval < 1 or args.steady < args.interval:
        parser.error("--devices >= 1, --interval >= 1 and --steady >= --interval")
    start, _, stop = args.udp_ports.partition(":")
    ports = (int(start), int(stop))
    columns = _profile_columns()
    print(
        f"bench/site_scale.py: `pue-agent run` with history and PUE, {PROFILE} devices on net-snmp snmpd, "
        f"{args.interval:g} s interval, {args.warmup:g} s warm-up, {args.steady:g} s measured, /metrics scraped "
        f"every {args.scrape_every or args.interval * 2 / 3:g} s",
        flush=True,
    )
    print(
        f"{'N':>6} {'ver':4} {'cores':>6} {'CPU ms/poll':>11} {'polls/s':>7} {'ms/done':>7} {'RSS MB':>7} "
        f"{'RSS +MB':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'late':>6} {'fail':>5} {'scrape ms':>9} {'scrape MB':>9} "
        f"{'polls in scrape':>15} {'p50 ms':>7} {'p99 ms':>7}",
        flush=True,
    )
    for version in args.version or ["v2c"]:
        rss: dict[int, float] = {}
        for n in sizes:
            with tempfile.TemporaryDirectory(prefix="pue-scale-") as tmp:
                r = run_case(
                    n,
                    version,
                    args.interval,
                    args.warmup,
                    args.steady,
                    Path(tmp),
                    columns,
                    args.keep_logs,
                    ports,
                    args.scrape_every or args.interval * 2 / 3,
                )
            rss[n] = r["rss_mb"]
            print(
                f"{n:>6} {version:4} {r['cores']:>6.3f} {r['cpu_ms_per_poll']:>11.2f} {r['polls_done_per_s']:>7.0f} "
                f"{r['cpu_ms_per_done_poll']:>7.2f} {r['rss_mb']:>7.0f} "
                f"{r['rss_growth_mb']:>+8.1f} "
                f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['late_share']:>6.1%} "
                f"{r['failures']:>5.0f} {r['scrape_ms']:>9.0f} {r['scrape_mb']:>9.1f} "
                f"{r['scraping_polls']:>15.0f} {r['scraping_p50_ms']:>7.1f} {r['scraping_p99_ms']:>7.1f}",
                flush=True,
            )
        if len(rss) > 1:
            lo, hi = min(rss), max(rss)
            print(
                f"       {version}: memory per device {1024 * (rss[hi] - rss[lo]) / (hi - lo):.1f} KiB "
                f"(RSS difference between N={lo} and N={hi})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
