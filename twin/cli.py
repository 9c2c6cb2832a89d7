"""``twin simulate`` command line: run a year of the twin, write the site history, print a summary.

Usage: ``python -m twin.cli twin simulate --weather guiyang --days 365 --step-min 15
--control baseline --out history.csv``. Argument errors exit with status 2.
"""

from __future__ import annotations

import argparse
import functools
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.catalog import BUNDLED_SITES, CONTROLLERS

__all__ = ["MAX_STEPS", "main", "register"]

#: the most steps one simulation takes (ten years at 1 min is 5.3 M)
MAX_STEPS = 10_000_000


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _start_date(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an ISO date: {text!r}") from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``twin`` sub-command (with ``simulate``) to an argparse sub-parser collection.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.

    Returns
    -------
    argparse.ArgumentParser
        The ``twin`` parser.
    """
    twin: argparse.ArgumentParser = subparsers.add_parser("twin", help="digital twin of the data hall")
    twin_sub = twin.add_subparsers(dest="twin_command", required=True)
    sim = twin_sub.add_parser("simulate", help="simulate the hall and write the site history CSV")
    sim.add_argument("--weather", default="guiyang", help=f"{'|'.join(BUNDLED_SITES)} or a path to an .epw file")
    sim.add_argument("--days", type=_positive_float, default=365.0, help="days to simulate (> 0)")
    sim.add_argument("--step-min", type=_positive_float, default=15.0, help="step length in minutes")
    sim.add_argument("--control", choices=CONTROLLERS, default="baseline")
    sim.add_argument("--explore-c", type=_non_negative_float, default=0.0, help="random setpoint amplitude [K]")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--start", type=_start_date, default=datetime(2026, 1, 1, tzinfo=UTC))
    sim.add_argument("--out", type=Path, required=True, help="site history CSV to write")
    sim.add_argument(
        "--submeters",
        action="store_true",
        help="also write energy by sub-system (chillers, towers, pumps, CRAH fans, ...), unit and energy type",
    )
    sim.set_defaults(handler=functools.partial(_run_simulate, parser=sim))
    return twin


def _run_simulate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from agent.app.progress import progress
    from twin.history_csv import write_site_history
    from twin.simulate import simulate, summarize
    from twin.weather import load_site_weather

    steps = args.days * 1440.0 / args.step_min
    if steps > MAX_STEPS:  # each step holds a few dozen floats per rack: 144 M steps would exhaust the memory
        parser.error(
            f"--days {args.days:g} at --step-min {args.step_min:g} is {steps:,.0f} steps; at most {MAX_STEPS:,} "
            "(a year at 1 min is 525,600)"
        )
    key = args.weather.lower()
    if key not in BUNDLED_SITES and not Path(args.weather).is_file():
        parser.error(f"--weather: {args.weather!r} is neither a bundled site nor an existing EPW file")
    try:
        weather = load_site_weather(args.weather, seed=args.seed)
    except ValueError as err:
        parser.error(f"--weather: {err}")
    with progress(f"twin simulate: {args.days:g} days of {weather.site}", unit="steps") as step:
        result = simulate(
            weather,
            days=args.days,
            step_s=args.step_min * 60.0,
            controller=args.control,
            start=args.start,
            explore_c=args.explore_c,
            seed=args.seed,
            progress=lambda done, total: step.update(done, total),
        )
    with progress(f"twin simulate: writing {args.out}"):
        rows = write_site_history(result, args.out, submeters=args.submeters)
    s = summarize(result)
    print(f"site: {weather.site}  controller: {args.control}  days: {s.days:g}  step: {args.step_min:g} min")
    print(f"annual PUE (energy): {s.pue:.3f}")
    print(f"IT energy: {s.it_energy_kwh:,.0f} kWh  facility energy: {s.facility_energy_kwh:,.0f} kWh")
    print(f"cooling energy: {s.cooling_energy_kwh:,.0f} kWh")
    print(f"on-site PV: {s.pv_energy_kwh:,.0f} kWh (REF {s.ref:.3f})")
    print(f"heat reused: {s.reused_heat_kwh:,.0f} kWh (ERF {s.erf:.3f}, ERE {s.ere:.3f})")
    print(f"tower make-up water: {s.water_m3:,.0f} m3 (WUE {s.wue_l_per_kwh:.2f} L/kWh IT)")
    print(f"free cooling: {s.full_free_cooling_hours:,.1f} h full, {s.partial_free_cooling_hours:,.1f} h partial")
    print(f"minutes with a rack inlet above 27 C: {s.minutes_inlet_above_limit:g} (max {s.max_inlet_c:.2f} C)")
    print(f"wrote {rows} rows to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m twin.cli twin simulate ...``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (argument errors exit 2 through argparse).
    """
    parser = argparse.ArgumentParser(prog="pue-agent")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers)
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
