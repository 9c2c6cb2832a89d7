"""Polling throughput and cost: pue-agent's SNMP path vs Debian's prometheus-snmp-exporter.

Both poll the same responder (net-snmp's snmpd listening on N UDP ports on loopback, serving the
apc-rpdu2 objects of the real AP8853 recording) for the same OIDs, SNMPv2c and SNMPv3 authPriv
(SHA-256/AES-128), and the bench prints, per case: device-polls per second, CPU milliseconds per
device-poll, p50/p99 latency and peak RSS of the poller process. Rounds after the first are
"steady"; the first round (engine and target set-up) is reported separately. pue-agent runs twice:
``fast`` (the adapter's default: agent/devices/snmp/wire.py for v2c and v3 authPriv) and ``pysnmp``
(``PysnmpClient(fast_path=False)``).

    .venv/bin/python bench/poll.py                 # N = 100 and 1000, v2c and v3
    .venv/bin/python bench/poll.py --devices 20 --rounds 2 --no-exporter   # quick smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "tests" / "fixtures" / "devices" / "apc_ap8853.snmprec"
PROFILE = "apc-rpdu2"
V3 = ("benchv3", "bench-auth-key-1", "bench-priv-key-1")
COMMUNITY = "bench"
_SNMPD_TYPES = {"2": "integer", "66": "unsigned", "65": "counter", "4": "octet_str", "6": "object_id", "67": "unsigned"}


def _profile_columns() -> list[str]:
    sys.path.append(str(ROOT))
    from agent.devices.profiles import load_profiles

    return list(load_profiles()[PROFILE].columns)


def _served_lines(columns: list[str]) -> list[tuple[str, str, str]]:
    rows = []
    for line in RECORDING.read_text().splitlines():
        oid, tag, value = line.split("|", 2)
        if oid == "1.3.6.1.2.1.1.2.0" or any(oid.startswith(c + ".") for c in columns):
            rows.append((oid, tag, value))
    return rows


class Snmpd:
    """net-snmp's snmpd answering on ``count`` consecutive loopback UDP ports.

    One process per 100 ports: snmpd.conf lines are length-limited, so a single ``agentaddress``
    line cannot list 1,000 endpoints.
    """

    PORTS_PER_PROCESS = 100

    def __init__(self, base_port: int, count: int, workdir: Path, columns: list[str]) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        body = [
            f"rocommunity {COMMUNITY} 127.0.0.1",
            f"createUser {V3[0]} SHA-256 {V3[1]} AES {V3[2]}",
            f"rouser {V3[0]} priv",
        ]
        for oid, tag, value in _served_lines(columns):
            if oid != "1.3.6.1.2.1.1.2.0":  # snmpd answers its own sysObjectID
                body.append(f"override {oid} {_SNMPD_TYPES[tag]} {value}")
        snmpd = shutil.which("snmpd") or "/usr/sbin/snmpd"
        for chunk, first in enumerate(range(base_port, base_port + count, self.PORTS_PER_PROCESS)):
            last = min(first + self.PORTS_PER_PROCESS, base_port + count)
            conf = workdir / f"snmpd-{chunk}.conf"
            addrs = ",".join(f"udp:127.0.0.1:{p}" for p in range(first, last))
            conf.write_text("\n".join([f"agentaddress {addrs}", *body]) + "\n")
            env = dict(os.environ, SNMP_PERSISTENT_DIR=str(workdir / f"persist-{chunk}"), MIBS="")
            self.procs.append(
                subprocess.Popen(
                    [
                        snmpd,
                        "-f",
                        "-Lf",
                        str(workdir / f"snmpd-{chunk}.log"),
                        "-C",
                        "-c",
                        str(conf),
                        "-p",
                        str(workdir / f"snmpd-{chunk}.pid"),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(1.5)
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                raise RuntimeError(f"snmpd failed: {(workdir / f'snmpd-{i}.log').read_text()[-2000:]}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(timeout=10)


# --- pue-agent side (runs in a child process so RSS is its own) --------------------------------
def agent_case(
    base_port: int, devices: int, version: str, rounds: int, concurrency: int, fast_path: bool = True
) -> dict[str, float]:
    import gc

    from agent.devices.profiles import load_profiles
    from agent.devices.readings import read_device
    from agent.devices.snmp.client import PysnmpClient
    from agent.devices.snmp.seam import SnmpTarget, V2cAuth, V3Auth

    profile = load_profiles()[PROFILE]
    auth = V2cAuth(COMMUNITY) if version == "v2c" else V3Auth(V3[0], "sha256", V3[1], "aes128", V3[2])
    targets = [SnmpTarget("127.0.0.1", base_port + i, auth, timeout_s=5.0, retries=1) for i in range(devices)]

    async def run() -> dict[str, float]:
        client = PysnmpClient(max_concurrency=concurrency, fast_path=fast_path)
        latencies: list[float] = []
        failures = 0
        values: list[float] = []

        # at most ``concurrency`` devices in flight, as the exporter side has that many scrape threads:
        # latency is then one device-poll's, not its wait in the queue of all N
        slots = asyncio.Semaphore(concurrency)

        async def one(target: SnmpTarget, sink: list[float]) -> None:
            nonlocal failures
            async with slots:
                start = time.perf_counter()
                try:
                    readout = await read_device(client, target, profile)
                    values.append(next(r.value for r in readout.readings if r.quantity == "active_power_w"))
                except Exception:
                    failures += 1
                sink.append(time.perf_counter() - start)

        first: list[float] = []
        c0, w0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(t, first) for t in targets))
        first_cpu, first_wall = time.process_time() - c0, time.perf_counter() - w0
        gc.collect()
        gc.freeze()
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(one(t, latencies) for t in targets))
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        await client.close()
        polls = devices * rounds
        latencies.sort()
        return {
            "polls_per_s": polls / wall,
            "cpu_ms_per_poll": 1000 * cpu / polls,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
            "first_round_cpu_s": first_cpu,
            "first_round_wall_s": first_wall,
            "failures": failures,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "value_w": statistics.median(values) if values else float("nan"),
        }

    return asyncio.run(run())


# --- snmp_exporter side -----------------------------------------------------------------------
def exporter_config(path: Path, columns: list[str]) -> None:
    metrics = [
        {"name": f"col{i}", "oid": col, "type": "gauge", "indexes": [{"labelname": "idx", "type": "gauge"}]}
        for i, col in enumerate(columns)
    ]
    common = {"walk": columns, "metrics": metrics, "max_repetitions": 25, "retries": 1, "timeout": "5s"}
    modules = {
        "pdu_v2c": {**common, "version": 2, "auth": {"community": COMMUNITY}},
        "pdu_v3": {
            **common,
            "version": 3,
            "auth": {
                "username": V3[0],
                "security_level": "authPriv",
                "password": V3[1],
                "auth_protocol": "SHA256",
                "priv_protocol": "AES",
                "priv_password": V3[2],
            },
        },
    }
    path.write_text(json.dumps(modules))  # JSON is YAML


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def exporter_case(
    base_port: int, devices: int, version: str, rounds: int, concurrency: int, workdir: Path, columns: list[str]
) -> dict[str, float]:
    exe = shutil.which("prometheus-snmp-exporter")
    if exe is None:
        return {}
    conf = workdir / "snmp.yml"
    exporter_config(conf, columns)
    sys.path.append(str(ROOT / "tests"))
    from netutil import free_port

    port = free_port()
    proc = subprocess.Popen(
        [exe, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    module = "pdu_v2c" if version == "v2c" else "pdu_v3"
    try:
        time.sleep(1.0)
        latencies: list[float] = []
        failures = 0
        values: list[float] = []

        def one(i: int, sink: list[float]) -> None:
            nonlocal failures
            url = f"http://127.0.0.1:{port}/snmp?module={module}&target=127.0.0.1:{base_port + i}"
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=30) as resp:
                    body = resp.read().decode()
                for line in body.splitlines():
                    if line.startswith('col0{idx="1"}'):
                        values.append(float(line.split()[-1]))
                if "snmp_scrape_walk_duration_seconds" not in body:
                    failures += 1
            except OSError:
                failures += 1
            sink.append(time.perf_counter() - start)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            first: list[float] = []
            list(pool.map(lambda i: one(i, first), range(devices)))
            c0, w0 = _proc_cpu_s(proc.pid), time.perf_counter()
            for _ in range(rounds):
                list(pool.map(lambda i: one(i, latencies), range(devices)))
            cpu, wall = _proc_cpu_s(proc.pid) - c0, time.perf_counter() - w0
        polls = devices * rounds
        latencies.sort()
        return {
            "polls_per_s": polls / wall,
            "cpu_ms_per_poll": 1000 * cpu / polls,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
            "failures": failures,
            "rss_mb": _proc_hwm_mb(proc.pid),
            # rPDU2DeviceStatusPower raw (0.01 kW): x10 = W, as the profile scales it
            "value_w": 10 * statistics.median(values) if values else float("nan"),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _agent_child(base: int, n: int, version: str, path: str, rounds: int, concurrency: int) -> dict[str, float]:
    """One pue-agent case in a fresh process (its own RSS and CPU)."""
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--agent-case",
            f"{base}:{n}:{version}:{path}",
            "--rounds",
            str(rounds),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if child.returncode != 0:
        raise RuntimeError(f"pue-agent case {version}/{path} failed:\n{child.stderr[-3000:]}")
    result: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, action="append", help="N simulated PDUs (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--versions", default="v2c,v3")
    parser.add_argument("--no-exporter", action="store_true")
    parser.add_argument("--paths", default="fast,pysnmp", help="pue-agent SNMP paths to run (fast, pysnmp)")
    parser.add_argument("--agent-case", help=argparse.SUPPRESS)  # child process entry
    args = parser.parse_args(argv)
    if args.agent_case:
        base, n, version, path = args.agent_case.split(":")
        print(json.dumps(agent_case(int(base), int(n), version, args.rounds, args.concurrency, path == "fast")))
        return 0
    columns = _profile_columns()
    sizes = args.devices or [100, 1000]
    sys.path.append(str(ROOT / "tests"))
    from netutil import free_udp_range

    print(
        f"bench/poll.py: profile {PROFILE} ({len(columns)} columns, {len(_served_lines(columns)) - 1} values per "
        f"poll) served by net-snmp snmpd on loopback; {args.rounds} steady rounds, concurrency {args.concurrency}"
    )
    header = (
        f"{'poller':<18}{'N':>6}{'ver':>5}{'polls/s':>10}{'CPU ms/poll':>13}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'RSS MB':>9}{'fail':>6}{'value W':>9}  first round"
    )
    print(header)
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
            base = free_udp_range(n, tcp=False)
            snmpd = Snmpd(base, n, Path(tmp), columns)
            try:
                for version in args.versions.split(","):
                    for path in args.paths.split(","):
                        a = _agent_child(base, n, version, path, args.rounds, args.concurrency)
                        print(
                            f"{'pue-agent ' + path:<18}{n:>6}{version:>5}{a['polls_per_s']:>10.0f}"
                            f"{a['cpu_ms_per_poll']:>13.2f}{a['p50_ms']:>9.1f}{a['p99_ms']:>9.1f}"
                            f"{a['rss_mb']:>9.0f}{a['failures']:>6}{a['value_w']:>9.0f}  "
                            f"{a['first_round_cpu_s']:.1f} s CPU, {a['first_round_wall_s']:.1f} s wall"
                        )
                    if not args.no_exporter:
                        e = exporter_case(base, n, version, args.rounds, args.concurrency, Path(tmp), columns)
                        if e:
                            print(
                                f"{'snmp_exporter':<18}{n:>6}{version:>5}{e['polls_per_s']:>10.0f}"
                                f"{e['cpu_ms_per_poll']:>13.2f}{e['p50_ms']:>9.1f}{e['p99_ms']:>9.1f}"
                                f"{e['rss_mb']:>9.0f}{e['failures']:>6}{e['value_w']:>9.0f}"
                            )
                        else:
                            print("snmp_exporter: prometheus-snmp-exporter not installed (make system-deps)")
            finally:
                snmpd.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
