"""Loopback helpers for end-to-end tests."""

from __future__ import annotations

import itertools
import os
import socket
import time
import urllib.request
from typing import Any

#: where :func:`free_port` picks single ports: below :func:`free_udp_range`'s blocks and the ephemeral range
SINGLE_PORTS = (10000, 20000)
_picked = itertools.count()  # each call in a process moves on, so two calls before either binds never agree
_offset = (os.getpid() * 7919 + int(time.time() * 1000)) % 1000


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 free for ``kind`` (TCP unless told), for a server a test starts.

    Not port 0's pick: the kernel takes that from its ephemeral range, where any outgoing connection or
    client socket in the run (a scrape, a PostgreSQL client, an SNMP request) can be handed the same port
    between this probe and the server's bind. This worker's share of :data:`SINGLE_PORTS` is walked instead,
    from a per-process offset, never the same port twice in a row."""
    low, high = _worker_share(*SINGLE_PORTS)
    span = high - low
    for _ in range(span):
        port = low + (_offset + next(_picked)) % span
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {low}..{high}")


def free_udp_range(count: int, start: int = 20000, stop: int = 60000, *, tcp: bool = True) -> int:
    """First port of ``count`` consecutive ports on 127.0.0.1 free for UDP and (unless ``tcp`` is false) TCP.

    A simulated site serves SNMP and BACnet over UDP but Modbus TCP and Redfish over TCP, so each port is
    probed both ways (a benchmark serving SNMP alone passes ``tcp=False``). The span stops below the
    kernel's ephemeral range (``ip_local_port_range``): a port there can be handed to any test's outgoing
    connection (a scrape, a PostgreSQL client) between this probe and the simulated site's bind.

    Under pytest-xdist (``make test TEST_WORKERS=2``) each worker searches its own share of the span, so
    two workers probing at the same moment never pick overlapping ranges. A range too large for the span
    below the ephemeral range (a benchmark's 10,000 devices) is searched in the whole of ``start..stop``."""
    low, high = _worker_share(start, min(stop, _ephemeral_low()))
    if high - low < 2 * count:
        low, high = _worker_share(start, stop)
    start, stop = low, high
    base = start + (int(time.time() * 1000) % ((stop - start) // 2))
    while base + count < stop:
        socks = []
        try:
            for p in range(base, base + count):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM) if tcp else (socket.SOCK_DGRAM,):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            base += count + 1
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1 in {start}..{stop}")


def _ephemeral_low() -> int:
    """The first port the kernel hands to outgoing connections (32768 on Linux by default)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


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
