"""What ``run`` and ``demo`` tell the operator at start and at stop, on stdout, once each.

At start (:func:`startup_lines`)::

    site demo-hall: 7 devices (7 enabled) polled every 5 s
      meter 2: janitza-umg96rm x2
      ups 1: rfc1628-ups
    topology: PUE = facility (meter-main) / IT (ups-1, ups-2), category 1; cooling: crah-1
    recommender: off
    metrics at http://127.0.0.1:10330/metrics

While it runs, when asked (the demo: every few seconds), :func:`status_line`::

    status: PUE 1.384 | recommend 17.0/8.0 C, economizer on, saves 21.5 kW | last action 11:02:03 apply ...

At stop (:func:`shutdown_line`): why, after how long, how many polls failed and the last realtime PUE::

    pue-agent: stopped (SIGINT) after 63 s: 126 polls, 0 failed; last realtime PUE 1.384
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.config.site import SiteConfig
    from agent.devices.readings import DeviceSnapshot
    from agent.site.poller import AgentState, SiteState

__all__ = ["PollCounter", "shutdown_line", "startup_lines", "status_line"]

#: a topology line names at most this many devices per boundary, then "and N more"
_NAMED_PER_BOUNDARY = 4


def _devices(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMED_PER_BOUNDARY])
    more = len(names) - _NAMED_PER_BOUNDARY
    return shown + (f" and {more} more" if more > 0 else "")


def startup_lines(cfg: SiteConfig, metrics_url: str) -> list[str]:
    """Devices per role and profile, the PUE topology, the recommender mode and where the metrics are."""
    enabled = [d for d in cfg.devices if d.enabled]
    lines = [
        f"site {cfg.site.name}: {len(cfg.devices)} devices ({len(enabled)} enabled) polled every "
        f"{cfg.poll_interval_s:g} s"
    ]
    roles = Counter(d.role for d in enabled)
    for role, count in sorted(roles.items()):
        profiles = Counter(d.profile for d in enabled if d.role == role)
        listed = ", ".join(f"{p} x{n}" if n > 1 else p for p, n in sorted(profiles.items()))
        lines.append(f"  {role} {count}: {listed}")
    topo = cfg.topology
    line = (
        f"topology: PUE = facility ({_devices([t.device for t in topo.facility])}) / "
        f"IT ({_devices([t.device for t in topo.it])}), category {topo.it_category}"
    )
    if topo.cooling:
        line += f"; cooling: {_devices([t.device for t in topo.cooling])}"
    lines.append(line)
    rcfg = cfg.recommender
    if rcfg is None or rcfg.mode == "off":
        lines.append("recommender: off")
    else:
        model = f", model {rcfg.model_dir}" if rcfg.model_dir is not None else ""
        lines.append(f"recommender: {rcfg.mode}{model}")
    lines.append(f"metrics at {metrics_url}")
    return lines


class PollCounter:
    """An agent observer counting the polls made and failed since start (for the shutdown line)."""

    def __init__(self) -> None:
        self.polls = 0
        self.failed = 0

    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        self.polls += 1
        self.failed += 0 if snapshot.ok else 1

    def on_site(self, site: SiteState, state: AgentState) -> None:
        pass


def _pue(state: AgentState) -> str:
    site = state.site
    if site is None:
        return "PUE: no site tick yet"
    if site.live.value is None:
        return f"PUE not valid ({site.live.reason})"
    return f"PUE {site.live.value:.3f}"


def _recommendation(rec: dict[str, Any]) -> str:
    reason = rec.get("held_back_reason")
    if reason:
        return f"held back: {reason}"
    setpoints = rec.get("setpoints") or {}
    air, chw = setpoints.get("supply_air_setpoint_c"), setpoints.get("chw_supply_setpoint_c")
    if air is None or chw is None:
        return "no recommendation yet"
    economizer = "on" if setpoints.get("economizer_enabled") else "off"
    text = f"recommend {air:.1f}/{chw:.1f} C, economizer {economizer}"
    saving_w = rec.get("predicted_savings_w")
    if saving_w:
        text += f", saves {saving_w / 1e3:.1f} kW"
    if rec.get("pending_id") is not None:
        text += f" (pending id {rec['pending_id']})"
    return text


def _action(action: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(float(action["timestamp_s"])).strftime("%H:%M:%S")
    before = action.get("before")
    was = f"{before:g}->" if isinstance(before, (int, float)) else ""
    return (
        f"last action {when} {action.get('kind')} {action.get('device')} {action.get('quantity')} "
        f"{was}{action.get('requested'):g} {action.get('result')}"
    )


def status_line(state: AgentState, recommendation: dict[str, Any] | None, actions: list[dict[str, Any]]) -> str:
    """Realtime PUE, the current recommendation (or why it is held back) and the last setpoint action."""
    parts = [_pue(state)]
    if recommendation is not None:
        parts.append(_recommendation(recommendation))
        parts.append(_action(actions[-1]) if actions else "no action yet")
    return "status: " + " | ".join(parts)


def shutdown_line(reason: str, elapsed_s: float, counter: PollCounter, state: AgentState) -> str:
    """One line: why the agent stopped, after how long, polls made and failed, the last realtime PUE."""
    return (
        f"pue-agent: stopped ({reason}) after {elapsed_s:.0f} s: {counter.polls} polls, {counter.failed} failed; "
        f"last realtime {_pue(state)}"
    )
