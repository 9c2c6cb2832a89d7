"""Poller, site accounting and collectors against a fake SNMP client and a fake clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.app.runtime import next_due_s
from agent.config.site import load_config
from agent.config.tariff import TariffConfig
from agent.devices.snmp.adapter import SnmpDevices
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget
from agent.errors import SnmpTimeoutError
from agent.export.collectors import build_registry
from agent.site.poller import AgentState, Poller, SiteAccountant

ROOT = Path(__file__).resolve().parents[2]

P3 = "1.3.6.1.4.1.34278.2.1.0"  # Janitza p3 (W)
WH3 = "1.3.6.1.4.1.34278.5.1.0"  # Janitza wh3 (0.1 kWh)
UPS_OUT = "1.3.6.1.2.1.33.1.4.4.1.4"  # upsOutputPower.{line}


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class PerTargetClient(FakeSnmpClient):
    """One canned MIB per UDP port, so each configured device answers differently."""

    def __init__(self, by_port: dict[int, FakeSnmpClient]) -> None:
        super().__init__({})
        self.by_port = by_port

    async def get(self, target: SnmpTarget, oids):  # type: ignore[no-untyped-def]
        return await self.by_port[target.port].get(target, oids)

    async def walk(self, target: SnmpTarget, columns, max_repetitions=25):  # type: ignore[no-untyped-def]
        return await self.by_port[target.port].walk(target, columns, max_repetitions)


@pytest.fixture()
def site():  # type: ignore[no-untyped-def]
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    cfg = cfg.model_copy(update={"devices": cfg.devices[:3], "pue_window_s": 60.0, "poll_interval_s": 10.0})
    meter = FakeSnmpClient({P3: ("integer", 150_000), WH3: ("integer", 1_000_000)})
    ups_a = FakeSnmpClient({f"{UPS_OUT}.1": ("integer", 30_000), f"{UPS_OUT}.2": ("integer", 30_000)})
    ups_b = FakeSnmpClient({f"{UPS_OUT}.1": ("integer", 40_000)})
    client = PerTargetClient({d.port: c for d, c in zip(cfg.devices, (meter, ups_a, ups_b), strict=True)})
    clock = Clock()
    state = AgentState()
    poller = Poller(cfg, profiles, SnmpDevices(cfg, client), state, clock)
    accountant = SiteAccountant(cfg, state, clock)
    return cfg, state, poller, accountant, clock, (meter, ups_a, ups_b)


async def _cycle(cfg, poller, accountant, clock, meter, dt=10.0):  # type: ignore[no-untyped-def]
    for dev in cfg.devices:
        await poller.poll(dev.name)
    site = accountant.tick()
    clock.t += dt
    # the meter's energy register advances by facility power x dt, in 0.1 kWh
    kind, raw = meter.data[WH3]
    meter.data[WH3] = (kind, raw + round(150_000 * dt / 360_000))
    return site


def test_live_and_interval_pue_and_exposition(site) -> None:  # type: ignore[no-untyped-def]
    cfg, state, poller, accountant, clock, (meter, _a, _b) = site

    async def run():  # type: ignore[no-untyped-def]
        sites = []
        for _ in range(50):
            sites.append(await _cycle(cfg, poller, accountant, clock, meter, dt=12.0))
        return sites

    sites = asyncio.run(run())
    last = sites[-1]
    assert last.live.value == pytest.approx(150_000 / 100_000)
    assert last.interval.value == pytest.approx(1.5, rel=1e-3), last.interval.reason
    assert last.window_coverage_ratio == 1.0
    registry = build_registry(cfg, state, clock)
    assert registry.get_sample_value("pue_site_realtime_pue") == pytest.approx(1.5)
    assert (
        registry.get_sample_value(
            "pue_device_active_power_watts", {"device": "ups-a", "role": "ups", "zone": "hall-1", "line": "1"}
        )
        == 30_000
    )
    assert (
        registry.get_sample_value(
            "pue_device_energy_joules_total", {"device": "meter-main", "role": "utility_meter", "zone": "hall-1"}
        )
        > 3.6e11
    )
    methods = {
        (s.labels["device"], s.labels["method"])
        for f in registry.collect()
        for s in f.samples
        if s.name == "pue_site_energy_method_info"
    }
    assert ("meter-main", "counter") in methods and ("ups-a", "integrated") in methods


def test_interval_pue_waits_for_a_full_window(site) -> None:  # type: ignore[no-untyped-def]
    cfg, _state, poller, accountant, clock, (meter, _a, _b) = site
    first = asyncio.run(_cycle(cfg, poller, accountant, clock, meter))
    assert first.interval.value is None and "warming up" in (first.interval.reason or "")


def test_failed_device_drops_its_series_and_invalidates_pue(site) -> None:  # type: ignore[no-untyped-def]
    cfg, state, poller, accountant, clock, (meter, _a, ups_b) = site

    async def run():  # type: ignore[no-untyped-def]
        for _ in range(8):
            await _cycle(cfg, poller, accountant, clock, meter)
        ups_b.fail = SnmpTimeoutError("127.0.0.1:16103: no response")
        for _ in range(3):
            site = await _cycle(cfg, poller, accountant, clock, meter)
        return site

    site_state = asyncio.run(run())
    assert site_state.live.value is None and "ups-b" in (site_state.live.reason or "")
    assert site_state.interval.value is None
    registry = build_registry(cfg, state, clock)
    labels = {"device": "ups-b", "role": "ups", "zone": "hall-1"}
    assert registry.get_sample_value("pue_device_up", {**labels, "profile": "rfc1628-ups"}) == 0.0
    assert registry.get_sample_value("pue_device_active_power_watts", {**labels, "line": "1"}) is None
    assert registry.get_sample_value("pue_device_poll_errors_total", {"device": "ups-b", "kind": "timeout"}) == 3
    assert registry.get_sample_value("pue_site_realtime_pue") is None
    assert (
        registry.get_sample_value(
            "pue_site_pue_invalid_info", {"kind": "realtime", "reason": "missing data from: ups-b"}
        )
        == 1.0
    )


def test_failure_is_logged_once_not_per_poll(site, caplog) -> None:  # type: ignore[no-untyped-def]
    cfg, _state, poller, accountant, clock, (meter, _a, ups_b) = site
    ups_b.fail = SnmpTimeoutError("no response")

    async def run() -> None:
        for _ in range(5):
            await _cycle(cfg, poller, accountant, clock, meter)

    with caplog.at_level("WARNING"):
        asyncio.run(run())
    assert sum("ups-b: poll failed" in r.getMessage() for r in caplog.records) == 1


def test_meter_reset_keeps_exported_energy_monotonic(site) -> None:  # type: ignore[no-untyped-def]
    cfg, state, poller, accountant, clock, (meter, _a, _b) = site

    async def run() -> list[float]:
        totals = []
        for i in range(6):
            if i == 3:
                meter.data[WH3] = ("integer", 5)  # the meter's energy was reset from its front panel
            await _cycle(cfg, poller, accountant, clock, meter)
            totals.append(state.energy[("meter-main", "energy_j")].total_j)
        return totals

    totals = asyncio.run(run())
    assert totals == sorted(totals)
    assert state.counter_events[("meter-main", "reset")] == 1


@pytest.mark.parametrize(
    ("last", "now", "expected"),
    [
        (None, 100.0, 100.0),  # first poll: now
        (100.0, 105.0, 115.0),  # on the grid
        (100.0, 137.0, 145.0),  # overrun: next grid point after now, no burst
    ],
)
def test_next_due_is_a_pure_function_of_last_now_interval(last, now, expected) -> None:  # type: ignore[no-untyped-def]
    assert next_due_s(last, now, 15.0) == expected


def test_the_configured_emission_factor_is_exported(site) -> None:  # type: ignore[no-untyped-def]
    """The configured factor with its route; none configured: no sample at all (no silent national default)."""
    from agent.config.site import CarbonConfig

    cfg, state, _poller, _accountant, clock, _devices = site
    unconfigured = build_registry(cfg.model_copy(update={"carbon": None}), state, clock)
    families = {f.name: f for f in unconfigured.collect()}
    assert families["pue_site_emission_factor_kg_per_kwh"].samples == []
    southern = build_registry(
        cfg.model_copy(update={"carbon": CarbonConfig(emission_factor="cn-mee-2022-southern")}), state, clock
    )
    assert (
        southern.get_sample_value(
            "pue_site_emission_factor_kg_per_kwh",
            {"factor": "cn-mee-2022-southern", "year": "2022", "region": "southern", "route": "location"},
        )
        == 0.3869
    )
    guizhou = build_registry(
        cfg.model_copy(update={"carbon": CarbonConfig(emission_factor="cn-mee-2022-guizhou")}), state, clock
    )
    assert (
        guizhou.get_sample_value(
            "pue_site_emission_factor_kg_per_kwh",
            {"factor": "cn-mee-2022-guizhou", "year": "2022", "region": "guizhou", "route": "location"},
        )
        == 0.4989
    )


def test_a_pv_meter_in_facility_and_renewable_counts_in_both() -> None:
    """The same device quantity in two boundaries: each boundary keeps its own previous totals."""
    from agent.config.site import Topology

    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    pv_dev = cfg.devices[0].model_copy(
        update={"name": "meter-pv", "port": cfg.devices[0].port + 50, "role": "renewable_meter"}
    )
    topology = Topology.model_validate(
        {
            "it_category": 1,
            "facility": [{"device": "meter-main"}, {"device": "meter-pv"}],
            "it": [{"device": "ups-a"}, {"device": "ups-b"}],
            "renewable": [{"device": "meter-pv"}],
        }
    )
    cfg = cfg.model_copy(
        update={
            "devices": (*cfg.devices[:3], pv_dev),
            "topology": topology,
            "pue_window_s": 60.0,
            "poll_interval_s": 10.0,
        }
    )
    meter = FakeSnmpClient({P3: ("integer", 120_000), WH3: ("integer", 1_000_000)})
    pv = FakeSnmpClient({P3: ("integer", 36_000), WH3: ("integer", 5_000)})
    ups_a = FakeSnmpClient({f"{UPS_OUT}.1": ("integer", 30_000), f"{UPS_OUT}.2": ("integer", 30_000)})
    ups_b = FakeSnmpClient({f"{UPS_OUT}.1": ("integer", 40_000)})
    client = PerTargetClient({d.port: c for d, c in zip(cfg.devices, (meter, ups_a, ups_b, pv), strict=True)})
    clock = Clock()
    state = AgentState()
    poller = Poller(cfg, profiles, SnmpDevices(cfg, client), state, clock)
    accountant = SiteAccountant(cfg, state, clock)

    async def run() -> None:
        for _ in range(6):
            for dev in cfg.devices:
                await poller.poll(dev.name)
            accountant.tick()
            clock.t += 10.0
            for fake, watts in ((meter, 120_000), (pv, 36_000)):  # 10 s x W in 0.1 kWh (360 kJ) steps
                kind, raw = fake.data[WH3]
                fake.data[WH3] = (kind, raw + watts * 10 // 360_000)

    asyncio.run(run())
    registry = build_registry(cfg, state, clock)
    renewable = registry.get_sample_value("pue_site_energy_joules_total", {"boundary": "renewable"})
    facility = registry.get_sample_value("pue_site_energy_joules_total", {"boundary": "facility"})
    assert renewable == 5 * 1 * 360_000.0  # five complete intervals, one 0.1 kWh step each
    assert facility == 5 * (3 + 1) * 360_000.0
    assert registry.get_sample_value("pue_site_water_cubic_meters_total") is None  # no water meter configured


def test_register_stepping_back_is_held_and_no_interval_across_it_counts(site) -> None:  # type: ignore[no-untyped-def]
    """Issue 19: a 0.3 kWh step back of the meter's register was taken as a reset (the whole register added)."""
    cfg, state, poller, accountant, clock, (meter, _a, _b) = site

    complete: list[bool | None] = []

    def tick():  # type: ignore[no-untyped-def]
        site = accountant.tick()
        complete.append(accountant._window[-1].complete if accountant._window else None)
        return site

    async def run():  # type: ignore[no-untyped-def]
        sites = []
        for k in range(14):
            if k in (5, 8):  # the register reads 2 kWh low at polls 5-7 (more than 10 s count), then right again
                kind, raw = meter.data[WH3]
                meter.data[WH3] = (kind, raw - 20 if k == 5 else raw + 20)
            for dev in cfg.devices:
                await poller.poll(dev.name)
            clock.t += 5.0
            sites.append(tick())  # half an interval after the polls, as the agent's ticks fall between polls
            clock.t += 5.0
            kind, raw = meter.data[WH3]
            meter.data[WH3] = (kind, raw + round(150_000 * 10.0 / 360_000))  # 4 steps of 0.1 kWh per 10 s
        return sites

    sites = asyncio.run(run())
    assert state.counter_events == {("meter-main", "glitch"): 1}
    # the device's monotonic energy counted every step of the register once, the glitch not at all
    assert state.energy[("meter-main", "energy_j")].total_j == (1_000_000 + 13 * 4) * 360_000.0
    held = [s for s in sites if "stepped back" in (s.interval.reason or "")]
    assert held and all(
        "missing data from: meter-main (energy_j {}: stepped back from" in (s.interval.reason or "") for s in held
    )
    # no interval from the first glitched poll (5, tick 5) to the poll after it ended (8, tick 8) is complete
    # (ticks at twice the poll rate used to count a tick with no poll since the last one, 0 J, as complete: an
    # interval whose energy is not known, tests/site/test_interval_spans.py)
    assert complete == [None] + [True] * 4 + [False] * 4 + [True] * 5, complete


def test_partial_ups_read_is_no_contributor_and_taints_the_interval_after(site) -> None:  # type: ignore[no-untyped-def]
    """Issue 19: one UPS output line reading -1 gave a valid PUE over the lines that decoded."""
    cfg, _state, poller, accountant, clock, (meter, ups_a, _b) = site

    complete: list[bool | None] = []

    async def run():  # type: ignore[no-untyped-def]
        sites = []
        for k in range(10):
            ups_a.data[f"{UPS_OUT}.2"] = ("integer", -1 if k == 4 else 30_000)
            sites.append(await _cycle(cfg, poller, accountant, clock, meter))
            complete.append(accountant._window[-1].complete if accountant._window else None)
        return sites

    sites = asyncio.run(run())
    assert [s.live.valid for s in sites] == [True] * 4 + [False] + [True] * 5
    assert sites[4].live.reason == (
        f"missing data from: ups-a ({UPS_OUT}.2: active_power_w: -1 below physical minimum 0)"
    )
    assert sites[4].it_w.value is None and sites[4].it_w.coverage_ratio == 0.5
    # the IT energy is integrated from power: the partial poll and the one after (whose step spans it) count nothing
    assert complete == [None, True, True, True, False, False, True, True, True, True], complete


def test_interval_pue_over_too_little_of_its_window_is_withheld(site) -> None:  # type: ignore[no-untyped-def]
    """Issue 19, fault bench kind counter-step-back: after a register step back held the meter's counter for 56 s of
    a 60 s window, the interval PUE over the 4-5 s left was marked valid, 1.29-1.69 against a true 1.415 (one
    0.1 kWh count of each meter is 15 % of 5 s of facility energy). Below half its window, it is withheld."""
    cfg, _state, poller, accountant, clock, (meter, _a, _b) = site

    async def run():  # type: ignore[no-untyped-def]
        sites = []
        for k in range(20):
            if k == 7:  # the register reads 3 kWh low from poll 7 on: held at poll 6's value until poll 12
                kind, raw = meter.data[WH3]
                meter.data[WH3] = (kind, raw - 30)
            sites.append(await _cycle(cfg, poller, accountant, clock, meter, dt=12.0))
        return sites

    sites = asyncio.run(run())
    coverage = [round(s.window_coverage_ratio, 6) for s in sites]
    # window of 5 intervals of 12 s: gaps from tick 7 (the glitch) to tick 12 (the re-baseline after it)
    assert coverage[6:18] == [1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0], coverage
    for k in (13, 14):  # one and two of five intervals complete
        assert sites[k].interval.value is None, (k, sites[k].interval)
        assert sites[k].interval.reason == (
            "window coverage below 50 %: too little of the 60 s window has complete data"
        ), sites[k].interval.reason
    for k in (6, 15, 16, 17, 19):
        assert sites[k].interval.value == pytest.approx(1.5, rel=1e-9), (k, sites[k].interval)


def test_energy_cost_by_tariff_period_is_exported(site) -> None:  # type: ignore[no-untyped-def]
    """Facility energy across a period boundary: the cost counters add up to the energy at each price."""
    cfg, state, poller, _accountant, clock, (meter, _a, _b) = site
    tariff = TariffConfig.model_validate(
        {
            "prices_cny_per_kwh": {"valley": 0.3, "peak": 0.9},
            "seasons": [
                {
                    "periods": [
                        {"period": "valley", "start": "00:00", "end": "12:00"},
                        {"period": "peak", "start": "12:00", "end": "24:00"},
                    ]
                }
            ],
        }
    )
    cfg = cfg.model_copy(update={"tariff": tariff})
    clock.t = datetime(2026, 3, 15, 11, 58, tzinfo=UTC).timestamp()  # site.timezone is UTC here
    accountant = SiteAccountant(cfg, state, clock)

    async def run():  # type: ignore[no-untyped-def]
        for _ in range(30):  # 11:58 to 12:04
            await _cycle(cfg, poller, accountant, clock, meter, dt=12.0)

    asyncio.run(run())
    registry = build_registry(cfg, state, clock)
    facility_kwh = registry.get_sample_value("pue_site_energy_joules_total", {"boundary": "facility"}) / 3.6e6
    valley = registry.get_sample_value("pue_site_energy_cost_cny_total", {"period": "valley"})
    peak = registry.get_sample_value("pue_site_energy_cost_cny_total", {"period": "peak"})
    assert valley > 0 and peak > 0
    assert valley / 0.3 + peak / 0.9 == pytest.approx(facility_kwh)
    assert registry.get_sample_value("pue_site_tariff_price_cny_per_kwh", {"period": "peak"}) == 0.9
    plain = build_registry(site[0], state, clock)  # no tariff configured: no cost series
    assert plain.get_sample_value("pue_site_energy_cost_cny_total", {"period": "peak"}) is None
