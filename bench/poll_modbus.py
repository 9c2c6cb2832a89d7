"""Modbus TCP polling cost: CPU per device-poll of pue-agent's Modbus adapter at 100 and 1,000 devices.

The devices are simulated meters (the twin's pymodbus gateway, ``twin/serve/modbus.py``) in a separate
process: ``--units-per-gateway`` RTU meters behind each Modbus TCP gateway port on loopback, as sites wire
them. The poller (this process) reads every device's profile once per round through
:class:`agent.devices.modbus.adapter.ModbusDevices`, all devices at once (up to ``--concurrency``), one TCP
connection per gateway. Printed per case: device-polls per second, CPU milliseconds per device-poll (this
process only: the poller, not the simulated meters), p50/p99 latency, Modbus requests per device-poll. The
first round (connections) is reported apart. ``batched`` is the profile as shipped (the register map read in
as few requests as it allows); ``narrow`` reads at most 4 registers per request, no gap (two float32 objects):
what batching saves.

    .venv/bin/python bench/poll_modbus.py                               # 100 and 1000 devices
    .venv/bin/python bench/poll_modbus.py --devices 20 --rounds 2       # quick smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config.site import DeviceConfig  # noqa: E402
from agent.devices.modbus.adapter import ModbusDevices  # noqa: E402
from agent.devices.modbus.client import PymodbusClient  # noqa: E402
from agent.devices.modbus.registers import plan_reads  # noqa: E402
from agent.devices.profiles import ModbusSettings, Profile, load_profiles  # noqa: E402
from bench.adapter_rounds import adapter_rounds, row  # noqa: E402

PROFILE = "janitza-umg96rm-modbus"
HOST = "127.0.0.1"


def _ports(base: int, devices: int, per_gateway: int) -> list[tuple[int, int]]:
    """(port, unit id) of each device: ``per_gateway`` units (1, 2, ...) behind each port from ``base``."""
    return [(base + i // per_gateway, 1 + i % per_gateway) for i in range(devices)]


def serve(base: int, devices: int, per_gateway: int, profile_name: str) -> None:
    """The simulated meters: one pymodbus gateway per port, until killed (run in a child process)."""
    from twin.serve.modbus import ModbusGateway, ModbusProfiledDevice

    profile = load_profiles()[profile_name]

    async def main() -> None:
        gateways: dict[int, ModbusGateway] = {}
        meters = []
        for port, unit in _ports(base, devices, per_gateway):
            gateway = gateways.setdefault(port, ModbusGateway(HOST, port))
            meters.append(ModbusProfiledDevice(f"m{port}-{unit}", profile, gateway, unit))
        values = {("active_power_w", ()): 250_000.0, ("energy_j", ()): 3.6e12, ("frequency_hz", ()): 50.0}
        defaults = {"voltage_v": 230.0, "current_a": 360.0, "phase_active_power_w": 83_333.0}
        for meter in meters:
            meter.publish(values, 0.0, {**defaults, "apparent_power_va": 257_000.0})
            meter.agent.start()
        for gateway in gateways.values():
            await gateway.ready()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def _device(i: int, port: int, unit: int, profile: Profile) -> DeviceConfig:
    return DeviceConfig.model_validate(
        {
            "name": f"meter-{i}",
            "address": HOST,
            "port": port,
            "unit_id": unit,
            "profile": profile.name,
            "role": "other_meter",
            "timeout_s": 5.0,
            "retries": 1,
        }
    )


def agent_case(
    base: int, devices: int, per_gateway: int, profile: Profile, rounds: int, concurrency: int
) -> dict[str, float]:
    configs = [_device(i, port, unit, profile) for i, (port, unit) in enumerate(_ports(base, devices, per_gateway))]

    async def run() -> dict[str, float]:
        client = PymodbusClient()
        adapter = ModbusDevices(client)
        return await adapter_rounds(adapter, client, configs, profile, rounds, concurrency)

    return asyncio.run(run())


def _free_base(count: int) -> int:
    import socket

    base = 21000 + (os.getpid() * 37) % 20000
    while True:
        try:
            socks = []
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind((HOST, p))
            return base
        except OSError:
            base += count + 1
        finally:
            for s in socks:
                s.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--rounds", type=int, default=5, help="steady rounds after the first")
    ap.add_argument("--units-per-gateway", type=int, default=10, help="RTU meters behind each gateway port")
    ap.add_argument("--concurrency", type=int, default=200, help="device reads in flight at once")
    ap.add_argument("--profile", default=PROFILE)
    ap.add_argument("--serve", nargs=3, type=int, metavar=("BASE", "DEVICES", "PER_GATEWAY"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(*args.serve, args.profile)
        return 0
    shipped = load_profiles()[args.profile]
    unbatched = shipped.model_copy(
        update={"modbus": ModbusSettings(max_span_registers=4, max_gap_registers=0), "name": shipped.name}
    )
    print(
        f"profile {shipped.name}: {len(shipped.objects)} objects; batched "
        f"{len(plan_reads(shipped.objects, shipped.modbus_settings))} request(s) per poll, narrow "
        f"{len(plan_reads(unbatched.objects, unbatched.modbus_settings))}; {args.units_per_gateway} units per "
        f"gateway; {args.rounds} steady rounds; concurrency {args.concurrency}"
    )
    print(f"{'devices':>8} {'case':<10}{'polls/s':>9}{'CPU ms/poll':>13}{'p50 ms':>9}{'p99 ms':>9}{'req/poll':>10}")
    for n in args.devices:
        gateways = -(-n // args.units_per_gateway)
        base = _free_base(gateways)
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--profile",
                args.profile,
                "--serve",
                str(base),
                str(n),
                str(args.units_per_gateway),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            for case, profile in (("batched", shipped), ("narrow", unbatched)):
                r = agent_case(base, n, args.units_per_gateway, profile, args.rounds, args.concurrency)
                print(row(n, case, r), flush=True)
        finally:
            child.terminate()
            child.wait(timeout=10)
            if child.stdout is not None:
                child.stdout.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
