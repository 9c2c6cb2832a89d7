"""Behaviour of the UPS/PDU/ATS vendor profiles that their LibreNMS recordings do not exercise.

The recordings are trimmed LibreNMS walks: they lack some objects a real unit answers (CyberPower
ePDULoadStatusBankNumber, APC xATS output power, an NMC answering both upsHighPrec* and upsAdv*). These
cases feed the shipped profiles var-binds built from the MIB definitions.
"""

from __future__ import annotations

import pytest

from agent.devices.profiles import ProfileRegistry, load_profiles
from agent.devices.readings import decode_objects
from agent.devices.snmp.seam import SnmpValue


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry:
    return load_profiles()


def _int(oid: str, value: int) -> SnmpValue:
    return SnmpValue(oid, "integer", value)


def _gauge(oid: str, value: int) -> SnmpValue:
    return SnmpValue(oid, "gauge32", value)


def test_cyberpower_pdu_total_is_the_sum_of_its_phase_rows_not_its_bank_rows(registry: ProfileRegistry) -> None:
    """CPS-MIB ePDULoadStatusTable: bank number 0 marks a phase total, >= 1 a breaker bank of that phase."""
    entry = "1.3.6.1.4.1.3808.1.1.3.2.3.1.1"
    rows = {1: (0, 2160), 2: (1, 1200), 3: (2, 960)}  # row: (bank number, active power W)
    columns = {
        f"{entry}.5": [_int(f"{entry}.5.{row}", bank) for row, (bank, _) in rows.items()],
        f"{entry}.7": [_int(f"{entry}.7.{row}", watts) for row, (_, watts) in rows.items()],
        f"{entry}.2": [_gauge(f"{entry}.2.{row}", 90) for row in rows],
        f"{entry}.6": [_int(f"{entry}.6.{row}", 2300) for row in rows],
    }
    readout = decode_objects(registry["cyberpower-pdu"], {}, columns)
    totals = [r.value for r in readout.readings if r.quantity == "active_power_w"]
    per_row = sorted(r.value for r in readout.readings if r.quantity == "phase_active_power_w")
    assert totals == [2160.0]
    assert per_row == [960.0, 1200.0, 2160.0]
    assert readout.problems == ()


def test_apc_ats_output_power_is_in_tenths_of_kw_and_minus_one_is_no_value(registry: ProfileRegistry) -> None:
    xats = "1.3.6.1.4.1.318.1.1.17.4.3"
    scalars = {f"{xats}.2.0": _int(f"{xats}.2.0", 125), f"{xats}.1.0": _int(f"{xats}.1.0", -1)}
    columns = {
        f"{xats}.12.1.2": [_int(f"{xats}.12.1.2.{p}", 4000) for p in (1, 2, 3)],
        f"{xats}.12.1.3": [_int(f"{xats}.12.1.3.{p}", -1) for p in (1, 2, 3)],  # 3-wire service: no L-N
        f"{xats}.12.1.5": [_int(f"{xats}.12.1.5.{p}", v) for p, v in ((1, 41), (2, 42), (3, 42))],
    }
    readout = decode_objects(registry["apc-ats"], scalars, columns)
    assert [r.value for r in readout.readings if r.quantity == "active_power_w"] == [pytest.approx(12500.0)]
    assert sum(r.value for r in readout.readings if r.quantity == "phase_active_power_w") == pytest.approx(12500.0)
    assert not any(dict(r.labels).get("wiring") == "line_to_neutral" for r in readout.readings)
    assert not any(r.quantity == "frequency_hz" for r in readout.readings)
    assert readout.problems == ()


def test_apc_ups_reads_the_high_precision_object_once_when_both_answer(registry: ProfileRegistry) -> None:
    """An NMC answering upsHighPrecInputLineVoltage (0.1 V) and upsAdvInputLineVoltage (V) gives one reading."""
    high, adv = "1.3.6.1.4.1.318.1.1.1.3.3.1.0", "1.3.6.1.4.1.318.1.1.1.3.2.1.0"
    status = "1.3.6.1.4.1.318.1.1.1.4.1.1.0"
    scalars = {high: _gauge(high, 2317), adv: _gauge(adv, 232), status: _int(status, 2)}
    readout = decode_objects(registry["apc-powernet-ups"], scalars, {})
    inputs = [r.value for r in readout.readings if r.quantity == "voltage_v" and dict(r.labels) == {"side": "input"}]
    assert inputs == [pytest.approx(231.7)]


def test_tripplite_ups_reads_the_output_power_once(registry: ProfileRegistry) -> None:
    """UPS-MIB upsOutputPower and tlpUpsOutputLineActivePower hold the same watts: only the first is read."""
    profile = registry["tripplite-ups"]
    assert [o.column or o.oid for o in profile.objects if o.quantity == "active_power_w"] == [
        "1.3.6.1.2.1.33.1.4.4.1.4"
    ]


def test_apc_ups_energy_and_three_phase_power(registry: ProfileRegistry) -> None:
    """upsHighPrecOutputEnergyUsage is in hundredths of kWh; upsPhaseOutputPower rows are per phase (-1: none)."""
    energy, status = "1.3.6.1.4.1.318.1.1.1.4.3.6.0", "1.3.6.1.4.1.318.1.1.1.4.1.1.0"
    phase_power = "1.3.6.1.4.1.318.1.1.1.9.3.3.1.13"
    scalars = {energy: SnmpValue(energy, "gauge32", 123456), status: _int(status, 2)}
    columns = {phase_power: [_int(f"{phase_power}.1.{p}", w) for p, w in ((1, 4100), (2, 3900), (3, -1))]}
    readout = decode_objects(registry["apc-powernet-ups"], scalars, columns)
    assert [r.value for r in readout.readings if r.quantity == "energy_j"] == [pytest.approx(1234.56 * 3.6e6)]
    assert sorted(r.value for r in readout.readings if r.quantity == "phase_active_power_w") == [3900.0, 4100.0]
    assert readout.problems == ()
