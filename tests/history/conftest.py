"""Shared fixtures: a small config, a synthetic agent driving the history writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent.config.site import SiteConfig, load_config
from agent.devices.readings import DeviceSnapshot, Reading
from agent.history.store import SqliteHistoryStore
from agent.history.writer import HistoryWriter
from agent.site.poller import AgentState, DeviceEnergy
from models.counters import CounterState, advance

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cfg() -> SiteConfig:
    """meter-main (facility), ups-a + ups-b (IT), 60 s polls."""
    cfg, _ = load_config(ROOT / "configs" / "demo-site.yaml")
    return cfg.model_copy(update={"devices": cfg.devices[:3], "poll_interval_s": 60.0})


@dataclass
class SyntheticSite:
    """Drives a HistoryWriter like the agent would: device counters in, snapshots and ticks out.

    ``power_w`` per device is constant; ``raw`` is what each device's energy register shows, with
    optional wrap modulus; ``down`` devices answer nothing; ``reset`` zeroes a register.
    """

    cfg: SiteConfig
    writer: HistoryWriter
    power_w: dict[str, float]
    modulus_j: dict[str, float] = field(default_factory=dict)
    raw_j: dict[str, float] = field(default_factory=dict)
    counters: dict[str, CounterState] = field(default_factory=dict)
    state: AgentState = field(default_factory=AgentState)
    acked: list[float] = field(default_factory=list)

    def step(
        self, t_s: float, dt_s: float, down: frozenset[str] = frozenset(), reset: frozenset[str] = frozenset()
    ) -> None:
        for device, power in self.power_w.items():
            raw = self.raw_j.get(device, 0.0) + power * dt_s
            if device in reset:
                raw = power * dt_s  # the register restarted right after the previous poll
            modulus = self.modulus_j.get(device)
            if modulus is not None:
                raw %= modulus
            self.raw_j[device] = raw
            if device in down:
                snap = DeviceSnapshot(device, t_s, 0.01, False, error="timeout", error_kind="timeout")
                self.state.snapshots[device] = snap
                self.writer.on_snapshot(snap, self.state)
                continue
            previous = self.counters.get(device)
            new_state, _event, _delta = advance(previous, raw, modulus_j=modulus)
            self.counters[device] = new_state
            reading = Reading("energy_j", raw, (), modulus, None)
            snap = DeviceSnapshot(device, t_s, 0.01, True, (Reading("active_power_w", power), reading))
            self.state.snapshots[device] = snap
            self.state.last_success_s[device] = t_s
            self.state.energy[(device, "energy_j")] = DeviceEnergy(new_state.total_j, "counter", t_s)
            self.writer.on_snapshot(snap, self.state)
        site: Any = SimpleNamespace(timestamp_s=t_s)
        self.writer.on_site(site, self.state)
        self.writer.flush()  # the writer writes in its own thread: this step is stored when step() returns


@pytest.fixture()
def store(tmp_path: Path) -> SqliteHistoryStore:
    s = SqliteHistoryStore(tmp_path / "history.sqlite")
    yield s
    s.close()


def make_site(
    cfg: SiteConfig, store: SqliteHistoryStore, power_w: dict[str, float] | None = None, **kwargs: Any
) -> SyntheticSite:
    power = power_w or {"meter-main": 150_000.0, "ups-a": 60_000.0, "ups-b": 40_000.0}
    return SyntheticSite(cfg, HistoryWriter(store, cfg), power, **kwargs)
