"""A simulated device of a profile that reads several models or units answers as one device.

Gude's profile reads the 7213 (.66) and the 7214 (.67) tables, and the APC environmental profile reads
one temperature column twice (degC or degF by a unit scalar): the simulator writes the first object of
each quantity and label set only, so reading it back gives each value once, in canonical units.
(Profiles whose one column holds several quantities by a type column, HW group or NTI, cannot be simulated
at the simulator's single row "1": their last quantity wins that row.)
"""

from __future__ import annotations

from collections import Counter

import pytest

from agent.devices.profiles import load_profiles
from agent.devices.readings import decode_objects
from agent.devices.snmp.seam import SnmpValue
from twin.serve.device import ProfiledDevice, plausible_defaults
from twin.serve.responder import SimulatedAgent


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))


@pytest.mark.parametrize("name", ["gude-esb7213", "apc-environmental", "akcp-sensorprobe"])
def test_simulated_multi_model_profile_reads_back_each_value_once(name: str) -> None:
    profile = load_profiles()[name]
    agent = SimulatedAgent("127.0.0.1", 0)
    ProfiledDevice("env", profile, agent).publish({}, 10.0, plausible_defaults(1000.0))
    values = {
        ".".join(map(str, k)): SnmpValue(".".join(map(str, k)), kind, raw)
        for k, (kind, raw) in agent.mib.values.items()
    }
    scalars = {oid: values.get(oid, SnmpValue(oid, "no_such_instance", None)) for oid in profile.scalar_oids}
    columns = {
        col: [values[o] for o in sorted(values, key=_oid_key) if o.startswith(col + ".")] for col in profile.columns
    }
    readout = decode_objects(profile, scalars, columns)
    assert readout.readings and readout.problems == ()
    assert [k for k, n in Counter((r.quantity, r.labels) for r in readout.readings).items() if n > 1] == []
    temperatures = [r.value for r in readout.readings if r.quantity == "ambient_temp_c"]
    assert temperatures and all(abs(t - plausible_defaults(1000.0)["ambient_temp_c"]) < 0.1 for t in temperatures)
