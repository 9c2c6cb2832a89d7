"""Loopback helpers for end-to-end tests."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from typing import Any


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_range(count: int, start: int = 20000, stop: int = 60000) -> int:
    """First port of ``count`` consecutive free UDP ports on 127.0.0.1.

    Under pytest-xdist (``make test TEST_WORKERS=2``) each worker searches its own share of
    ``start..stop``, so two workers probing at the same moment never pick overlapping ranges."""
    start, stop = _worker_share(start, stop)
    base = start + (int(time.time() * 1000) % ((stop - start) // 2))
    while base + count < stop:
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            base += count + 1
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


def _worker_share(start: int, stop: int) -> tuple[int, int]:
    """This xdist worker's slice of ``start..stop`` (the whole span outside xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or workers < 2:
        return start, stop
    width = (stop - start) // workers
    first = start + int(worker[2:]) * width
    return first, first + width


def on_loopback(cfg: Any, *, interval_s: float, timeout_s: float, retries: int, **update: Any) -> Any:
    """``cfg`` (a SiteConfig) with its devices on consecutive free loopback UDP ports, the given poll timing,
    a free metrics port, and any further top-level ``update``."""
    base = free_udp_range(len(cfg.devices))
    devices = tuple(
        d.model_copy(update={"port": base + i, "timeout_s": timeout_s, "retries": retries})
        for i, d in enumerate(cfg.devices)
    )
    return cfg.model_copy(
        update={
            "devices": devices,
            "poll_interval_s": interval_s,
            "listen": cfg.listen.model_copy(update={"port": free_port()}),
            **update,
        }
    )


def scrape(url: str, timeout_s: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return str(resp.read().decode())


def sample(text: str, name: str, **labels: str) -> float | None:
    """Value of one sample in a Prometheus text exposition (exact label match), or None."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None
