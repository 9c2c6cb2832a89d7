"""Benchmark the twin: simulation speed and annual PUE per site and controller.

Run: ``.venv/bin/python bench/twin_year.py``.
"""

from __future__ import annotations

import time

from twin.simulate import simulate, summarize
from twin.weather import load_site_weather


def main() -> None:
    guiyang = load_site_weather("guiyang")
    for step_min in (15, 1):
        for controller in ("baseline", "oracle"):
            started = time.perf_counter()
            result = simulate(guiyang, days=365, step_s=step_min * 60.0, controller=controller)
            elapsed = time.perf_counter() - started
            print(f"guiyang 365 d at {step_min:2d}-min steps, {controller:8s}: {elapsed:6.2f} s ({len(result)} steps)")
    print()
    print(
        f"{'site':10s} {'controller':10s} {'PUE':>6s} {'cooling MWh':>12s} {'free full h':>12s} "
        f"{'free part h':>12s} {'min >27C':>9s}"
    )
    for site in ("guiyang", "chengdu", "chongqing"):
        weather = load_site_weather(site)
        for controller in ("baseline", "oracle"):
            s = summarize(simulate(weather, days=365, step_s=900.0, controller=controller))
            print(
                f"{site:10s} {controller:10s} {s.pue:6.3f} {s.cooling_energy_kwh / 1e3:12.0f} "
                f"{s.full_free_cooling_hours:12.0f} {s.partial_free_cooling_hours:12.0f} "
                f"{s.minutes_inlet_above_limit:9.0f}"
            )


if __name__ == "__main__":
    main()
