"""How long ``pue-agent check-config`` takes on large sites: the load must stay linear in the devices.

Run: ``.venv/bin/python bench/config_load.py [--devices 1000,20000,40000] [--profile]``.

Per size it writes a site config with that many rack PDUs (half of them on the facility side, half on
IT, as bench/site_scale.py does) and times the real CLI, start-up included (wall and CPU seconds: on a
busy machine the CPU time is the figure to compare); ``--profile`` also runs
the load in-process under cProfile and prints the ten most expensive functions of the largest size.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.config.site import load_config


def site_yaml(n: int) -> str:
    devices = "".join(
        f"  - {{name: pdu-{i:05d}, address: 10.{i // 65536}.{i // 256 % 256}.{i % 256}, port: 161, "
        f"credentials: ro, profile: apc-rpdu2, role: pdu, zone: hall-{i // 1000}}}\n"
        for i in range(n)
    )
    half = max(1, n // 2)
    facility = "".join(f"    - {{device: pdu-{i:05d}}}\n" for i in range(half))
    it = "".join(f"    - {{device: pdu-{i:05d}}}\n" for i in range(half, n)) or facility
    return (
        f"site:\n  name: bench-{n}\ncredentials:\n  ro:\n    version: 2c\n    community: bench-ro\n"
        f"devices:\n{devices}topology:\n  it_category: 2\n  facility:\n{facility}  it:\n{it}"
    )


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_config_s(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``pue-agent check-config PATH`` (CPU: what a shared machine cannot inflate)."""
    exe = Path(sys.executable).parent / "pue-agent"
    cpu_before, started = _children_cpu_s(), time.perf_counter()
    proc = subprocess.run([str(exe), "check-config", str(path)], capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"check-config {path} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return elapsed, _children_cpu_s() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", default="1000,20000,40000", help="comma-separated site sizes")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process load of the largest size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.devices.split(",")]
    print(f"{'devices':>8} {'config MB':>10} {'wall s':>8} {'CPU s':>8} {'CPU us/device':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"site-{n}.yaml"
            path.write_text(site_yaml(n))
            wall_s, cpu_s = check_config_s(path)
            print(
                f"{n:>8} {path.stat().st_size / 1e6:>10.2f} {wall_s:>8.2f} {cpu_s:>8.2f} {1e6 * cpu_s / n:>14.0f}",
                flush=True,
            )
        if args.profile:
            path = Path(tmp) / f"site-{max(sizes)}.yaml"
            profiler = cProfile.Profile()
            profiler.runcall(load_config, path)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
