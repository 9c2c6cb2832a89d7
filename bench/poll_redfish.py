"""Redfish polling cost: CPU per device-poll of pue-agent's Redfish adapter at 100 (and more) servers.

The BMCs are the twin's simulated ones (``twin/serve/redfish.py``: one HTTPS listener each, a test CA made at
start) in a separate process. The poller (this process) reads every server's profile once per round through
:class:`agent.devices.redfish.adapter.RedfishDevices`, all servers at once: one kept-alive TLS connection
per BMC, urllib3 on the adapter's thread pool. Printed per case: device-polls per second, CPU milliseconds
per device-poll (this process only, the poller: not the BMCs), p50/p99 latency and HTTP requests per
device-poll. The first round (TLS handshakes, session logins, link resolution) is reported apart.

    .venv/bin/python bench/poll_redfish.py                       # 100 servers, session and basic auth
    .venv/bin/python bench/poll_redfish.py --devices 20 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config.site import SiteConfig  # noqa: E402
from agent.devices.profiles import load_profiles  # noqa: E402
from agent.devices.redfish.adapter import RedfishDevices  # noqa: E402
from agent.devices.redfish.client import UrllibRedfishClient  # noqa: E402

HOST = "127.0.0.1"
USER, PASSWORD = "bench", "bench-password-0001"


def serve(devices: int, pki: Path) -> None:
    """The simulated BMCs until stdin closes (run in a child process): prints their ports as JSON."""
    from twin.serve.pki import make_test_pki
    from twin.serve.redfish import SimulatedBmc

    tls = make_test_pki(pki)
    bmcs = [SimulatedBmc(HOST, 0, USER, PASSWORD, tls) for _ in range(devices)]
    for i, bmc in enumerate(bmcs):
        bmc.power_w = 300.0 + i
        bmc.start()
    print(json.dumps([b.port for b in bmcs]), flush=True)
    sys.stdin.read()
    for bmc in bmcs:
        bmc.stop()


def _config(ports: list[int], ca_file: Path, auth: str, profile: str) -> SiteConfig:
    devices = [
        {"name": f"srv-{i}", "address": HOST, "port": port, "credentials": "bmc", "profile": profile, "role": "server"}
        for i, port in enumerate(ports)
    ]
    return SiteConfig.model_validate(
        {
            "site": {"name": "bench"},
            "credentials": {
                "bmc": {"protocol": "redfish", "user": USER, "password": PASSWORD, "auth": auth, "ca_file": ca_file}
            },
            "devices": devices,
            "topology": {"it_category": 3, "facility": [{"device": "srv-0"}], "it": [{"device": "srv-1"}]},
        }
    )


def agent_case(cfg: SiteConfig, rounds: int) -> dict[str, Any]:
    profiles = load_profiles()

    async def run() -> dict[str, Any]:
        client = UrllibRedfishClient(max_threads=16)
        adapter = RedfishDevices(cfg, client)
        latencies: list[float] = []

        async def one(name: str, sink: list[float]) -> None:
            dev = cfg.device(name)
            t0 = time.perf_counter()
            await adapter.read(dev, profiles[dev.profile])
            sink.append(time.perf_counter() - t0)

        names = [d.name for d in cfg.devices]
        c0, w0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(n, []) for n in names))
        first_cpu, first_wall = time.process_time() - c0, time.perf_counter() - w0
        first_requests = client.requests
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(one(n, latencies) for n in names))
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        requests = client.requests - first_requests
        await adapter.close()
        polls = rounds * len(names)
        q = statistics.quantiles(latencies, n=100)
        return {
            "polls_s": polls / wall,
            "cpu_ms": 1000 * cpu / polls,
            "p50_ms": 1000 * q[49],
            "p99_ms": 1000 * q[98],
            "req": requests / polls,
            "first_cpu_ms": 1000 * first_cpu / len(names),
            "first_wall_s": first_wall,
        }

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--pki", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.pki)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        pki = Path(folder)
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(args.devices), "--pki", str(pki)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            ports = json.loads(server.stdout.readline())
            print(f"{args.devices} simulated BMCs (HTTPS, ECDSA P-256 certificates), {args.rounds} rounds")
            print(
                f"{'devices':>8} {'case':<22}{'polls/s':>9}{'CPU ms/poll':>13}{'p50 ms':>9}{'p99 ms':>9}"
                f"{'req/poll':>10}{'1st round CPU ms/dev':>22}"
            )
            for auth in ("session", "basic"):
                for profile in ("redfish-server-power", "redfish-server-environment"):
                    r = agent_case(_config(ports, pki / "ca.pem", auth, profile), args.rounds)
                    case = f"{auth} {profile.removeprefix('redfish-server-')}"
                    print(
                        f"{args.devices:>8} {case:<22}{r['polls_s']:>9.0f}{r['cpu_ms']:>13.2f}{r['p50_ms']:>9.1f}"
                        f"{r['p99_ms']:>9.1f}{r['req']:>10.2f}{r['first_cpu_ms']:>22.2f}"
                    )
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(timeout=30)
            if server.stdout is not None:
                server.stdout.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
