"""The glossary of canonical quantities: every value a profile produces is one of these.

Each quantity is in SI (or an SI-derived unit Prometheus accepts) and carries its unit in its name.
A profile's ``scale``/``offset`` convert the device's raw number to this unit exactly once.

Conventions that the power topology relies on:

- ``active_power_w`` / ``energy_j`` readings of one device **sum** to that device's power/energy at
  its documented measurement point (meter total, UPS output, PDU inlet). Per-phase, per-outlet and
  UPS-input values use their own quantities so they are never double counted.
- Temperatures are in degrees Celsius; ratios are 0..1 (relative humidity, fan speed, load).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GLOSSARY", "Quantity", "quantity"]

MetricKind = Literal["gauge", "counter"]


@dataclass(frozen=True, slots=True)
class Quantity:
    """One canonical quantity and how it is exported.

    Attributes
    ----------
    name : canonical name, unit suffix included (``active_power_w``)
    unit : SI unit symbol
    metric : Prometheus metric name without the ``_total`` suffix of counters
    kind : ``gauge`` or ``counter`` (monotonic, wrap/reset handled by the collector)
    help : one line for the exposition's HELP
    rate : for a counter, the gauge of its rate in the same profile (``energy_j`` -> ``active_power_w``):
        the ceiling of that gauge bounds how fast the counter can plausibly count
    """

    name: str
    unit: str
    metric: str
    kind: MetricKind
    help: str
    rate: str | None = None

    @property
    def is_power(self) -> bool:
        """Active or apparent power (every profile object of such a quantity declares a ceiling)."""
        return self.unit in ("W", "VA")


def _q(name: str, unit: str, metric: str, kind: MetricKind, help_: str, rate: str | None = None) -> Quantity:
    return Quantity(name, unit, metric, kind, help_, rate)


GLOSSARY: dict[str, Quantity] = {
    q.name: q
    for q in (
        # power chain
        _q(
            "active_power_w",
            "W",
            "pue_device_active_power_watts",
            "gauge",
            "Active power at the device's measurement point (meter total, UPS output, PDU inlet).",
        ),
        _q(
            "energy_j",
            "J",
            "pue_device_energy_joules",
            "counter",
            "Active energy at the device's measurement point, made monotonic by the agent.",
            rate="active_power_w",
        ),
        _q(
            "input_active_power_w",
            "W",
            "pue_device_input_active_power_watts",
            "gauge",
            "Active power drawn at a UPS input.",
        ),
        _q(
            "phase_active_power_w",
            "W",
            "pue_device_phase_active_power_watts",
            "gauge",
            "Active power of one phase or line.",
        ),
        _q(
            "phase_energy_j",
            "J",
            "pue_device_phase_energy_joules",
            "counter",
            "Active energy of one phase or line, made monotonic by the agent (never summed into energy_j).",
            rate="phase_active_power_w",
        ),
        _q(
            "branch_active_power_w",
            "W",
            "pue_device_branch_active_power_watts",
            "gauge",
            "Active power of one branch circuit, breaker or outlet group of a PDU (never summed with phases).",
        ),
        _q(
            "outlet_active_power_w",
            "W",
            "pue_device_outlet_active_power_watts",
            "gauge",
            "Active power of one PDU outlet.",
        ),
        _q(
            "outlet_energy_j",
            "J",
            "pue_device_outlet_energy_joules",
            "counter",
            "Active energy of one PDU outlet, made monotonic by the agent.",
            rate="outlet_active_power_w",
        ),
        _q("apparent_power_va", "VA", "pue_device_apparent_power_volt_amperes", "gauge", "Apparent power."),
        _q(
            "phase_apparent_power_va",
            "VA",
            "pue_device_phase_apparent_power_volt_amperes",
            "gauge",
            "Apparent power of one phase or line.",
        ),
        _q(
            "outlet_apparent_power_va",
            "VA",
            "pue_device_outlet_apparent_power_volt_amperes",
            "gauge",
            "Apparent power of one PDU outlet.",
        ),
        _q("current_a", "A", "pue_device_current_amperes", "gauge", "RMS current."),
        _q("voltage_v", "V", "pue_device_voltage_volts", "gauge", "RMS voltage."),
        _q("frequency_hz", "Hz", "pue_device_frequency_hertz", "gauge", "Line frequency."),
        _q("load_ratio", "1", "pue_device_load_ratio", "gauge", "Load as a share of rated capacity (0-1)."),
        _q("battery_temp_c", "Cel", "pue_device_battery_temperature_celsius", "gauge", "UPS battery temperature."),
        _q(
            "battery_charge_ratio",
            "1",
            "pue_device_battery_charge_ratio",
            "gauge",
            "UPS battery charge remaining as a share of full charge (0-1).",
        ),
        _q(
            "battery_runtime_s",
            "s",
            "pue_device_battery_runtime_seconds",
            "gauge",
            "UPS estimated run time on battery at the present load.",
        ),
        _q(
            "bypass_active_power_w",
            "W",
            "pue_device_bypass_active_power_watts",
            "gauge",
            "Active power through a UPS bypass (not the UPS output: never summed with it).",
        ),
        # air side
        _q(
            "supply_air_temp_c",
            "Cel",
            "pue_device_supply_air_temperature_celsius",
            "gauge",
            "Supply (discharge) air temperature of a cooling unit.",
        ),
        _q(
            "return_air_temp_c",
            "Cel",
            "pue_device_return_air_temperature_celsius",
            "gauge",
            "Return (intake) air temperature of a cooling unit.",
        ),
        _q(
            "rack_inlet_temp_c",
            "Cel",
            "pue_device_rack_inlet_temperature_celsius",
            "gauge",
            "Air temperature at the IT equipment inlet (ASHRAE TC 9.9 measurement point).",
        ),
        _q(
            "rack_outlet_temp_c",
            "Cel",
            "pue_device_rack_outlet_temperature_celsius",
            "gauge",
            "Air temperature at the IT equipment exhaust.",
        ),
        _q(
            "ambient_temp_c", "Cel", "pue_device_ambient_temperature_celsius", "gauge", "Room or probe air temperature."
        ),
        _q(
            "internal_temp_c",
            "Cel",
            "pue_device_internal_temperature_celsius",
            "gauge",
            "Temperature inside a power device (UPS cabinet, inverter, controller board, transfer switch): "
            "not an air measurement, never a rack or room temperature.",
        ),
        _q(
            "outdoor_temp_c",
            "Cel",
            "pue_device_outdoor_temperature_celsius",
            "gauge",
            "Outdoor dry-bulb air temperature.",
        ),
        _q("dew_point_c", "Cel", "pue_device_dew_point_celsius", "gauge", "Dew-point temperature."),
        _q("relative_humidity_ratio", "1", "pue_device_relative_humidity_ratio", "gauge", "Relative humidity (0-1)."),
        _q("air_pressure_pa", "Pa", "pue_device_air_pressure_pascals", "gauge", "Air pressure."),
        _q("fan_speed_ratio", "1", "pue_device_fan_speed_ratio", "gauge", "Fan speed (0-1 of maximum)."),
        _q(
            "valve_position_ratio",
            "1",
            "pue_device_valve_position_ratio",
            "gauge",
            "Chilled-water valve opening (0-1).",
        ),
        _q("cooling_capacity_w", "W", "pue_device_cooling_output_watts", "gauge", "Cooling delivered by the unit."),
        _q(
            "cooling_power_w",
            "W",
            "pue_device_cooling_power_watts",
            "gauge",
            "Electrical power drawn by a cooling unit or plant.",
        ),
        _q(
            "cooling_energy_j",
            "J",
            "pue_device_cooling_energy_joules",
            "counter",
            "Electrical energy drawn by a cooling unit or plant, made monotonic by the agent.",
            rate="cooling_power_w",
        ),
        # water side
        _q(
            "chw_supply_temp_c",
            "Cel",
            "pue_device_chw_supply_temperature_celsius",
            "gauge",
            "Chilled-water supply (leaving) temperature.",
        ),
        _q(
            "chw_return_temp_c",
            "Cel",
            "pue_device_chw_return_temperature_celsius",
            "gauge",
            "Chilled-water return (entering) temperature.",
        ),
        _q(
            "free_cooling_ratio",
            "1",
            "pue_device_free_cooling_ratio",
            "gauge",
            "Share of the cooling load met by free cooling (0-1).",
        ),
        # refrigerant side (DX units)
        _q(
            "refrigerant_temp_c",
            "Cel",
            "pue_device_refrigerant_temperature_celsius",
            "gauge",
            "Refrigerant-circuit temperature of a DX unit (compressor suction/discharge, evaporating, "
            "condensing: the ``point`` label says which).",
        ),
        # energy reuse and water (ERE/ERF, WUE)
        _q(
            "reused_heat_power_w",
            "W",
            "pue_device_reused_heat_power_watts",
            "gauge",
            "Thermal power delivered for reuse outside the data centre (heat meter).",
        ),
        _q(
            "reused_heat_energy_j",
            "J",
            "pue_device_reused_heat_energy_joules",
            "counter",
            "Thermal energy delivered for reuse outside the data centre (heat meter), made monotonic.",
            rate="reused_heat_power_w",
        ),
        _q(
            "water_flow_m3_per_s",
            "m3/s",
            "pue_device_water_flow_cubic_meters_per_second",
            "gauge",
            "Site water flow (cooling-tower make-up, humidification) at a water meter.",
        ),
        _q(
            "water_volume_m3",
            "m3",
            "pue_device_water_volume_cubic_meters",
            "counter",
            "Site water volume at a water meter, made monotonic by the agent.",
            rate="water_flow_m3_per_s",
        ),
        # setpoints (writable where the profile says so)
        _q(
            "supply_air_setpoint_c",
            "Cel",
            "pue_device_supply_air_setpoint_celsius",
            "gauge",
            "Supply-air temperature setpoint.",
        ),
        _q(
            "return_air_setpoint_c",
            "Cel",
            "pue_device_return_air_setpoint_celsius",
            "gauge",
            "Return-air temperature setpoint.",
        ),
        _q(
            "rack_inlet_setpoint_c",
            "Cel",
            "pue_device_rack_inlet_setpoint_celsius",
            "gauge",
            "Rack-inlet temperature setpoint.",
        ),
        _q(
            "chw_supply_setpoint_c",
            "Cel",
            "pue_device_chw_supply_setpoint_celsius",
            "gauge",
            "Chilled-water supply temperature setpoint.",
        ),
        _q(
            "heating_setpoint_c",
            "Cel",
            "pue_device_heating_setpoint_celsius",
            "gauge",
            "Temperature below which a cooling unit heats (reheat or enclosure heater setpoint).",
        ),
        _q(
            "economizer_enabled",
            "1",
            "pue_device_economizer_enabled",
            "gauge",
            "Water-side economizer (free cooling) enabled: 1, disabled: 0.",
        ),
        _q("fan_min_speed_ratio", "1", "pue_device_fan_min_speed_ratio", "gauge", "Minimum fan speed setting (0-1)."),
        # levers of a variable-speed plant (models/levers.py), each optional per site
        _q(
            "condenser_water_setpoint_c",
            "Cel",
            "pue_device_condenser_water_setpoint_celsius",
            "gauge",
            "Condenser-water supply temperature setpoint (cooling-tower fans hold it).",
        ),
        _q(
            "chw_pump_dp_setpoint_pa",
            "Pa",
            "pue_device_chw_pump_dp_setpoint_pascals",
            "gauge",
            "Chilled-water loop differential-pressure setpoint of the variable-speed pumps.",
        ),
        _q("chillers_running", "1", "pue_device_chillers_running", "gauge", "Number of chillers running or requested."),
        _q(
            "towers_running",
            "1",
            "pue_device_towers_running",
            "gauge",
            "Number of cooling-tower cells running or requested.",
        ),
    )
}


def quantity(name: str) -> Quantity:
    """Return the glossary entry for ``name``; raise ``KeyError`` naming the known ones otherwise."""
    try:
        return GLOSSARY[name]
    except KeyError:
        raise KeyError(f"unknown quantity {name!r}; known: {', '.join(sorted(GLOSSARY))}") from None
