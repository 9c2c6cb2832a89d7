"""What the operator checks first, as one JSON document: ``GET /api/v1/status``, the web page, ``pue-agent status``.

Live PUE with its validity (the reason when it is withheld), each device up or down (fresh within
``stale_after_intervals`` poll intervals, with the last error), the current recommendation and the last
setpoint actions. Read from the agent's state at the moment of the request, never cached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from agent import __version__
from agent.config.site import SiteConfig
from agent.site.poller import AgentState

__all__ = ["LAST_ACTIONS", "StatusSource", "agent_status"]

#: how many of the newest setpoint actions the status carries
LAST_ACTIONS = 10


class StatusSource(Protocol):
    """The controller's part of the status (:class:`agent.control.controller.CoolingController`)."""

    def recommendation_json(self) -> dict[str, Any]: ...

    def actions_json(self) -> list[dict[str, Any]]: ...


def agent_status(
    cfg: SiteConfig, state: AgentState, controller: StatusSource | None, clock: Callable[[], float]
) -> dict[str, Any]:
    """The status document (JSON types only)."""
    now = clock()
    stale_after_s = cfg.poll_interval_s * cfg.stale_after_intervals
    site = state.site
    if site is None:
        pue: dict[str, Any] = {"realtime": None, "valid": False, "reason": "no site tick yet"}
    else:
        pue = {
            "realtime": site.live.value,
            "valid": site.live.valid,
            "reason": site.live.reason,
            "interval": site.interval.value,
            "interval_valid": site.interval.valid,
            "interval_reason": site.interval.reason,
            "timestamp_s": site.timestamp_s,
            "age_s": now - site.timestamp_s,
        }
    devices = []
    for dev in cfg.devices:
        snap = state.snapshots.get(dev.name)
        up = dev.enabled and state.fresh(dev.name, now, stale_after_s)
        last = state.last_success_s.get(dev.name)
        if up:
            problem = None
        elif not dev.enabled:
            problem = "disabled in the config"
        elif snap is None:
            problem = "not polled yet"
        elif not snap.ok:
            problem = snap.error or snap.error_kind or "poll failed"
        else:
            problem = (
                f"no successful poll for {now - (last or snap.timestamp_s):.0f} s (stale after {stale_after_s:g} s)"
            )
        devices.append(
            {
                "name": dev.name,
                "role": dev.role,
                "profile": dev.profile,
                "up": up,
                "last_success_s": last,
                "problem": problem,
            }
        )
    return {
        "version": __version__,
        "site": cfg.site.name,
        "time_s": now,
        "poll_interval_s": cfg.poll_interval_s,
        "pue": pue,
        "devices_up": sum(1 for d in devices if d["up"]),
        "devices_down": sum(1 for d in devices if not d["up"]),
        "devices": devices,
        "recommendation": controller.recommendation_json() if controller is not None else None,
        "actions": controller.actions_json()[-LAST_ACTIONS:] if controller is not None else [],
    }
