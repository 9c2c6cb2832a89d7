"""A demo site on loopback and an agent driven round by round (no scheduler), for fault tests
that control time or the history store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent.app.runtime import Agent
from agent.config.site import SiteConfig, load_config
from agent.devices.profiles import ProfileRegistry
from twin.serve.site import MinimalSite

ROOT = Path(__file__).resolve().parents[2]


def demo_config(base_port: int, **updates: Any) -> tuple[SiteConfig, ProfileRegistry]:
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    devices = tuple(
        d.model_copy(update={"port": base_port + i, "timeout_s": 0.5, "retries": 0}) for i, d in enumerate(cfg.devices)
    )
    return cfg.model_copy(
        update={"devices": devices, "poll_interval_s": 1.0, "pue_window_s": 60.0, **updates}
    ), profiles


@asynccontextmanager
async def site_and_agent(
    cfg: SiteConfig,
    profiles: ProfileRegistry,
    *,
    clock: Callable[[], float] | None = None,
    site_clock: Callable[[], float] | None = None,
    observers: Sequence[Any] = (),
) -> AsyncIterator[tuple[MinimalSite, Agent]]:
    site = MinimalSite(cfg, profiles, **({"clock": site_clock} if site_clock else {}))
    site.start()
    agent = Agent(cfg, profiles, observers=observers, **({"clock": clock} if clock else {}))
    try:
        yield site, agent
    finally:
        await agent.stop()
        site.stop()
        await asyncio.sleep(0)
