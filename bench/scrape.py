"""CPU of one /metrics scrape: prometheus-client's rendering against the cached per-device text (issue 17).

Builds an agent state for N devices in process (tests/core/test_exposition.py's representative site: escaped
label values, NaN/Inf, failed and stale devices), then measures with the process CPU clock, so that other
processes on a busy machine do not move the figures much:
- prometheus-client's ``generate_latest`` over the agent's registry (what every scrape cost before);
- rendering one device's fragment when its poll completes, first time and again (label text cached);
- a scrape from the cached fragments, in the text and the OpenMetrics formats; its size.

    .venv/bin/python bench/scrape.py --devices 10000
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client import generate_latest  # noqa: E402

from agent.export.collectors import build_registry  # noqa: E402
from agent.export.device_series import DeviceSeries  # noqa: E402
from agent.site.poller import SiteAccountant  # noqa: E402
from tests.core.test_exposition import _site  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5, help="scrapes measured (the median is shown)")
    args = parser.parse_args(argv)
    cfg, state, clock = _site(args.devices)
    SiteAccountant(cfg, state, clock).tick()
    series = DeviceSeries(cfg, state)
    registry = build_registry(cfg, state, clock, series)
    cpu = time.process_time

    def median_ms(fn: object) -> float:
        times = []
        for _ in range(args.repeat):
            t = cpu()
            fn()  # type: ignore[operator]
            times.append(cpu() - t)
        return 1000 * sorted(times)[len(times) // 2]

    slow_ms = median_ms(lambda: generate_latest(registry))
    t = cpu()
    for dev in cfg.devices:
        series.on_snapshot(state.snapshots[dev.name], state)
    first_us = 1e6 * (cpu() - t) / args.devices
    registry.exposition(False)
    # every device polled again (a new snapshot, same labels): rendered and put into the scrape's parts
    polled = [dataclasses.replace(state.snapshots[dev.name]) for dev in cfg.devices]
    t = cpu()
    for snap in polled:
        state.snapshots[snap.device] = snap
        series.on_snapshot(snap, state)
    again_us = 1e6 * (cpu() - t) / args.devices
    text_ms = median_ms(lambda: registry.exposition(False))
    om_ms = median_ms(lambda: registry.exposition(True))
    body = registry.exposition(False)
    assert body == generate_latest(registry)
    print(
        f"{args.devices} devices, {len(body) / 2**20:.1f} MB: prometheus-client {slow_ms:.0f} ms CPU per scrape; "
        f"cached text {text_ms:.0f} ms (OpenMetrics {om_ms:.0f} ms); a device's lines at its poll {first_us:.0f} us "
        f"first, {again_us:.0f} us after (label text cached)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
