"""BACnet/IP polling cost: CPU per device-poll of pue-agent's BACnet adapter at 100 and 1,000 devices.

The devices are simulated BACnet/IP controllers (the twin's bacpypes3 devices, ``twin/serve/bacnet.py``) in a
separate process, each a BACnet device on its own UDP port on loopback. The poller (this process) reads every
device's profile once per round through :class:`agent.devices.bacnet.adapter.BacnetDevices` from one
bacpypes3 application (one UDP socket), up to ``--concurrency`` devices at once. The profile is a CRAH-like
point list of ``--points`` analog inputs (presentValue, statusFlags, reliability and units each). Printed per
case: device-polls per second, CPU milliseconds per device-poll (this process only, not the simulated
devices), p50/p99 latency, confirmed requests per device-poll; the first round is reported apart.
``batched`` is ReadPropertyMultiple with up to 16 objects per request (the default); ``narrow`` asks for one
object per request: what ReadPropertyMultiple batching saves.

    .venv/bin/python bench/poll_bacnet.py                               # 100 and 1000 devices
    .venv/bin/python bench/poll_bacnet.py --devices 20 --rounds 2       # quick smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config.site import DeviceConfig  # noqa: E402
from agent.devices.bacnet.adapter import BacnetDevices  # noqa: E402
from agent.devices.bacnet.client import Bacpypes3Client  # noqa: E402
from agent.devices.bacnet.points import plan_batches  # noqa: E402
from agent.devices.profiles import BacnetSettings, Profile  # noqa: E402
from bench.adapter_rounds import adapter_rounds, row  # noqa: E402

HOST = "127.0.0.1"


def bench_profile(points: int, per_request: int = 16) -> Profile:
    """A CRAH-like point list: ``points`` analog inputs in degC (the bench's own; no device's document)."""
    return Profile.model_validate(
        {
            "name": "bench-bacnet-crah",
            "description": "bench: analog inputs of a CRAH",
            "source": "bench/poll_bacnet.py",
            "kind": "cooling_unit",
            "protocol": "bacnet",
            "bacnet": {"max_objects_per_request": per_request},
            "objects": [
                {
                    "quantity": "supply_air_temp_c",
                    "labels": {"sensor": str(i)},
                    "bacnet": {"object_type": "analog-input", "instance": i, "units": "degrees-celsius"},
                    "valid_min": -20,
                    "valid_max": 80,
                }
                for i in range(1, points + 1)
            ],
        }
    )


def serve(devices: int, points: int) -> None:
    """The simulated devices, one bacpypes3 device per UDP port, until killed (run in a child process)."""
    from twin.serve.bacnet import BacnetServedDevice

    profile = bench_profile(points)

    async def main() -> None:
        served = [BacnetServedDevice(f"d{i}", profile, HOST, 0, 10_000 + i) for i in range(devices)]
        values = {("supply_air_temp_c", (("sensor", str(i)),)): 18.0 + i / 10 for i in range(1, points + 1)}
        for device in served:
            device.start()
        for device in served:
            await device.ready()
            device.publish(values, 0.0)
        print(json.dumps([d.port for d in served]), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def _device(i: int, port: int, profile: Profile) -> DeviceConfig:
    return DeviceConfig.model_validate(
        {
            "name": f"crah-{i}",
            "address": HOST,
            "port": port,
            "profile": profile.name,
            "role": "cooling_unit",
            "timeout_s": 30.0,  # the simulated devices share one Python process: queueing, not the agent
            "retries": 0,
        }
    )


def agent_case(ports: list[int], profile: Profile, rounds: int, concurrency: int) -> dict[str, float]:
    configs = [_device(i, port, profile) for i, port in enumerate(ports)]

    async def run() -> dict[str, float]:
        client = Bacpypes3Client(local_host=HOST)
        adapter = BacnetDevices(client)
        return await adapter_rounds(adapter, client, configs, profile, rounds, concurrency)

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--rounds", type=int, default=3, help="steady rounds after the first")
    ap.add_argument("--points", type=int, default=12, help="analog inputs per device")
    ap.add_argument("--concurrency", type=int, default=50, help="device reads in flight at once")
    ap.add_argument(
        "--narrow-max", type=int, default=100, help="run the narrow case only up to this many devices (it is slow)"
    )
    ap.add_argument("--serve", nargs=2, type=int, metavar=("DEVICES", "POINTS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0
    batched = bench_profile(args.points)
    narrow = batched.model_copy(update={"bacnet": BacnetSettings(max_objects_per_request=1)})
    print(
        f"profile {batched.name}: {args.points} analog inputs; batched "
        f"{len(plan_batches(batched.objects, batched.bacnet_settings))} ReadPropertyMultiple per poll, narrow "
        f"{len(plan_batches(narrow.objects, narrow.bacnet_settings))}; {args.rounds} steady rounds; "
        f"concurrency {args.concurrency}"
    )
    print(f"{'devices':>8} {'case':<10}{'polls/s':>9}{'CPU ms/poll':>13}{'p50 ms':>9}{'p99 ms':>9}{'req/poll':>10}")
    for n in args.devices:
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(n), str(args.points)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None
            ports = json.loads(child.stdout.readline())
            for case, profile in (("batched", batched), ("narrow", narrow)):
                if case == "narrow" and n > args.narrow_max:
                    continue
                r = agent_case(ports, profile, args.rounds, args.concurrency)
                print(row(n, case, r), flush=True)
        finally:
            child.terminate()
            child.wait(timeout=10)
            if child.stdout is not None:
                child.stdout.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
