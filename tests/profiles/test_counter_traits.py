"""A counter reading's modulus, cap, rate ceiling and resolution, worked out once per profile (issue 17).

``counter_reading`` looks them up in :attr:`Profile.counter_traits` instead of working them out for every reading;
the lookup must give what the profile's objects say, and an object the profile does not hold (a copy) must still
get its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.devices.profiles import DEFAULT_PROFILE_DIR, load_profile
from agent.devices.readings import Reading, counter_reading


def test_an_rpdu2_energy_reading_carries_its_register_step_and_the_power_ceiling() -> None:
    profile = load_profile(DEFAULT_PROFILE_DIR / "apc-rpdu2.yaml")
    energy = next(o for o in profile.objects if o.quantity == "energy_j")
    reading = counter_reading(profile, energy, 7.2e9, (("pdu", "1"),))
    # an INTEGER register of 0.1 kWh: no wrap, no cap; the rate is checked against the PDU's 100 kW ceiling
    assert reading == Reading("energy_j", 7.2e9, (("pdu", "1"),), None, None, 100000.0, 360000.0)
    power = next(o for o in profile.objects if o.quantity == "active_power_w")
    assert counter_reading(profile, power, 1234.0, ()) == Reading("active_power_w", 1234.0, ())


@pytest.mark.parametrize("path", sorted(DEFAULT_PROFILE_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_cached_traits_equal_the_objects_own_and_a_copy_gets_its_own(path: Path) -> None:
    profile = load_profile(path)
    for obj in profile.objects:
        cached = counter_reading(profile, obj, 5.0, ())
        if not obj.is_counter:
            assert cached == Reading(obj.quantity, 5.0, ())
            continue
        modulus = obj.wrap_modulus_raw()
        cap = obj.counter.cap_raw if obj.counter else None
        assert cached == Reading(
            obj.quantity,
            5.0,
            (),
            None if modulus is None else modulus * obj.scale,
            None if cap is None else cap * obj.scale + obj.offset,
            profile.rate_ceiling(obj.quantity),
            abs(obj.scale),
        )
        halved = obj.model_copy(update={"scale": obj.scale / 2})  # not one of the profile's objects
        assert counter_reading(profile, halved, 5.0, ()).counter_resolution == abs(obj.scale) / 2
