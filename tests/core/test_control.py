"""Guarded setpoint writes at module level: rounding inside the bounds, and the property that no value
ever written leaves the profile's or the configured bounds (the twin end to end: tests/e2e)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agent.config.site import load_config
from agent.control.actuator import SetpointActuator, plan_setpoint
from agent.devices.profiles import ProfileObject, ProfileRegistry, Writable
from agent.devices.snmp.adapter import SnmpDevices
from agent.devices.snmp.seam import FakeSnmpClient
from agent.errors import WriteGuardError

ROOT = Path(__file__).resolve().parents[2]
SUPPLY_OID = "1.3.6.1.4.1.476.1.42.3.4.1.3.3.1.6.2"  # liebert-gp-environmental supply-air setpoint


def _actuator(writable: Writable, scale: float = 1.0) -> tuple[SetpointActuator, FakeSnmpClient, ProfileObject]:
    """An actuator over the twin site's config whose CRAH profile has ``writable`` supply-air bounds."""
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    crah = profiles["liebert-gp-environmental"]
    objects = tuple(
        o.model_copy(update={"writable": writable, "scale": scale})
        if o.quantity == "supply_air_setpoint_c" and o.writable
        else o
        for o in crah.objects
    )
    changed = crah.model_copy(update={"objects": objects})
    registry = ProfileRegistry([changed if profiles[n].name == crah.name else profiles[n] for n in profiles.names()])
    obj = changed.writable("supply_air_setpoint_c")
    assert obj is not None
    client = FakeSnmpClient({SUPPLY_OID: ("integer", obj.encode(20.0))})
    return SetpointActuator(cfg, registry, SnmpDevices(cfg, client), None), client, obj


def test_step_rounding_stays_inside_the_profile_bounds() -> None:
    """issue 19 #7: bounds 17.25-24.75 with step 0.5 got 17.0 and 25.0 written (rounded after the check)."""
    actuator, client, obj = _actuator(Writable(min=17.25, max=24.75, step=0.5), scale=0.1)
    dev = actuator._cfg.device("crah-1")
    for requested, expected in ((17.25, 17.5), (24.75, 24.5), (17.3, 17.5), (20.74, 20.5), (20.76, 21.0)):
        record = asyncio.run(actuator.write(dev, "supply_air_setpoint_c", requested, kind="apply", reason="test"))
        written = obj.decode("integer", client.sets[-1][1])
        assert 17.25 <= written <= 24.75, (requested, written)
        assert written == pytest.approx(expected) and record.result == "ok" and record.requested == written


def test_configured_bounds_narrow_the_profile_bounds() -> None:
    actuator, client, obj = _actuator(Writable(min=15.0, max=30.0, step=0.5), scale=0.1)
    actuator.limits = {"supply_air_setpoint_c": (16.2, 24.8)}
    dev = actuator._cfg.device("crah-1")
    with pytest.raises(WriteGuardError, match="outside the configured bounds"):
        asyncio.run(actuator.write(dev, "supply_air_setpoint_c", 26.0, kind="apply", reason="test"))
    asyncio.run(actuator.write(dev, "supply_air_setpoint_c", 24.8, kind="apply", reason="test"))
    assert obj.decode("integer", client.sets[-1][1]) == pytest.approx(24.5)
    asyncio.run(actuator.write(dev, "supply_air_setpoint_c", 16.2, kind="apply", reason="test"))
    assert obj.decode("integer", client.sets[-1][1]) == pytest.approx(16.5)
    actuator.limits = {"supply_air_setpoint_c": (16.1, 16.4)}  # no multiple of 0.5 inside: refused
    with pytest.raises(WriteGuardError, match="no multiple of the step"):
        asyncio.run(actuator.write(dev, "supply_air_setpoint_c", 16.2, kind="apply", reason="test"))
    assert len(client.sets) == 2


@pytest.mark.parametrize("requested", [math.nan, math.inf, -math.inf, 1e308])
def test_a_target_that_is_not_a_finite_number_in_bounds_is_never_sent(requested: float) -> None:
    actuator, client, _ = _actuator(Writable(min=15.0, max=25.0, step=1.0))
    with pytest.raises(WriteGuardError):
        asyncio.run(
            actuator.write(
                actuator._cfg.device("crah-1"), "supply_air_setpoint_c", requested, kind="apply", reason="test"
            )
        )
    assert client.sets == []


# --- the property: whatever the profile, bounds, step, scale and target, no SET leaves the bounds --------------
# few draws per example, from fixed strategies (hypothesis itself costs about 1.5 ms an example on a busy box)
_targets = st.one_of(
    st.floats(),  # anything a model or a client might hand over: nan, +-inf, 1e308, subnormals
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 2.0**63, 5e-324]),
)
_steps = st.sampled_from([None, 0.1, 0.25, 0.5, 1.0, 2.0, 0.01, 0.3, 0.001, 7.0, 1e-4, 100.0])
_scales = st.sampled_from([1.0, 0.1, 0.01, 10.0, 100.0, 0.5, -0.1, 0.2, 0.3, 1e-3, 1e3, 0.07, -2.5])
_offsets = st.sampled_from([0.0, 0.0, -273.15, 32.0, 0.05, 1e3, -0.3])
_unit = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=10_000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lo=st.floats(min_value=-1e6, max_value=1e6),
    width=st.sampled_from([1e-9, 1e-3, 0.3, 1.0, 10.0, 1e4]),
    shape=st.tuples(_unit, _unit, _unit, _unit),
    step=_steps,
    scale=_scales,
    offset=_offsets,
    configured=st.booleans(),
    pick=st.integers(0, 3),
    wild=_targets,
)
def test_no_write_ever_leaves_the_profile_or_the_configured_bounds(
    lo: float,
    width: float,
    shape: tuple[float, float, float, float],
    step: float | None,
    scale: float,
    offset: float,
    configured: bool,
    pick: int,
    wild: float,
) -> None:
    hi = lo + width * max(shape[0], 1e-3)
    if not hi > lo:
        hi = math.nextafter(lo, math.inf)
    obj = ProfileObject(
        quantity="supply_air_setpoint_c",
        oid="1.3.6.1.4.1.99.1.0",
        type="integer",
        scale=scale,
        offset=offset,
        writable=Writable(min=lo, max=hi, step=step),
    )
    # configured bounds overlapping the profile's (each end up to 30 % of its width beyond or inside it)
    w = hi - lo
    limits = (lo + (0.6 * shape[1] - 0.3) * w, hi - (0.6 * shape[2] - 0.3) * w) if configured else None
    low, high = (max(lo, limits[0]), min(hi, limits[1])) if limits else (lo, hi)
    # a target mostly inside both, now and then just outside, or (1 in 4) anything at all
    target = wild if pick == 0 else low + (1.1 * shape[3] - 0.05) * (high - low)
    try:
        value, raw = plan_setpoint(obj, target, limits)
    except WriteGuardError as err:
        event(f"refused: {' '.join(str(err).split()[1:3])}")
        return  # nothing is sent
    event("written")
    written = obj.decode("integer", raw)  # what the device makes of the raw integer SET
    assert written == value
    assert lo <= written <= hi, (written, obj.writable)
    if limits is not None:
        assert limits[0] <= written <= limits[1], (written, limits)
    assert -(2**31) <= raw <= 2**31 - 1
    assert math.isfinite(target)
    if step is not None and abs(scale) <= step / 10 and abs(written) < 1e5:
        # on a device finer than the step, what is written is on the step's grid
        k = written / step
        assert abs(k - round(k)) < 0.01 + abs(scale) / step, (written, step)


def test_the_common_cases_are_written_not_refused() -> None:
    """The property holds trivially if everything is refused: the shipped profiles' cases must go through."""
    obj = ProfileObject(
        quantity="chw_supply_setpoint_c",
        oid="1.3.6.1.4.1.99.1.0",
        type="integer",
        scale=0.1,
        writable=Writable(min=5.0, max=18.0, step=0.1),
    )
    assert plan_setpoint(obj, 10.0, (5.0, 18.0)) == (10.0, 100)
    assert plan_setpoint(obj, 7.04, None)[1] == 70
    assert plan_setpoint(obj, 18.0, (5.0, 18.0))[1] == 180
    econ = ProfileObject(
        quantity="economizer_enabled",
        oid="1.3.6.1.4.1.99.2.0",
        type="integer",
        enum={1: 1.0, 2: 0.0},
        writable=Writable(min=0, max=1, step=1),
    )
    assert plan_setpoint(econ, 1.0, (0.0, 1.0)) == (1.0, 1) and plan_setpoint(econ, 0.0, (0.0, 1.0)) == (0.0, 2)
    with pytest.raises(WriteGuardError, match="configured bounds"):
        plan_setpoint(econ, 1.0, (0.0, 0.0))  # allow_economizer False
