"""Start-up time of the ``pue-agent`` command line: the commands an operator types first.

Run: ``.venv/bin/python bench/cli.py [--runs 5] [--recording NAME]``.

Times ``--version``, ``--help``, ``check-config configs/demo-site.yaml`` and ``read`` of one real
recording served by snmpsim on loopback (tests/fixtures/devices/NAME.snmprec, community NAME), each in a
fresh process, and prints the median of ``--runs`` runs: wall seconds (what the operator waits) and CPU
seconds of the child (what a busy shared machine cannot inflate). The target is 0.5 s wall for each.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from snmpsim_server import FIXTURES, snmpsim  # noqa: E402  (tests/snmpsim_server.py)

EXE = str(Path(sys.executable).with_name("pue-agent"))
TARGET_S = 0.5
# An operator's shell does not set PYTHONDONTWRITEBYTECODE (this sandbox does): without cached bytecode
# every run compiles the agent's modules again, which no installed copy does. The first (untimed) run
# of each command writes the cache, as an operator's first command after installing does.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh ``pue-agent ARGS`` process; it must exit 0."""
    cpu_before, started = _children_cpu_s(), time.perf_counter()
    proc = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, env=ENV)
    wall_s, cpu_s = time.perf_counter() - started, _children_cpu_s() - cpu_before
    if proc.returncode != 0:
        raise SystemExit(f"pue-agent {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return wall_s, cpu_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per command (median)")
    parser.add_argument("--recording", default="apc_smt750x-nmc2", help="fixture served for `read`")
    args = parser.parse_args(argv)
    recording = FIXTURES / f"{args.recording}.snmprec"
    with snmpsim([recording]) as port:
        commands = {
            "--version": ["--version"],
            "--help": ["--help"],
            "check-config": ["check-config", str(ROOT / "configs" / "demo-site.yaml")],
            "read": ["read", f"udp://127.0.0.1:{port}", "--community", args.recording],
        }
        rows = []
        for name, command in commands.items():
            time_command(command)  # warm the file cache: the first run after an install is not the figure
            samples = [time_command(command) for _ in range(args.runs)]
            wall = statistics.median(s[0] for s in samples)
            cpu = statistics.median(s[1] for s in samples)
            rows.append((name, wall, cpu))
    print(f"pue-agent start-up, median of {args.runs} fresh processes (target {TARGET_S:g} s wall)")
    print(f"{'command':<14} {'wall s':>8} {'cpu s':>8}")
    for name, wall, cpu in rows:
        flag = "" if wall < TARGET_S else "  over target"
        print(f"{name:<14} {wall:>8.3f} {cpu:>8.3f}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
