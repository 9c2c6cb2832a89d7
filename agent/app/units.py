"""Readings in the units an operator reads on a meter or a controller, beside the SI value the agent keeps.

The glossary (:mod:`agent.devices.quantities`) holds SI units in UCUM spelling (``J``, ``Cel``, ``1``); ``read``
prints each value in SI and, where a site would say it differently, in operator units::

    energy_j              45,526,000,000 J     12,646.1 kWh
    rack_inlet_temp_c               23.4 °C
    relative_humidity_ratio         0.41       41.0 %RH
"""

from __future__ import annotations

__all__ = ["operator_value", "si_text"]

#: UCUM spelling in the glossary -> the symbol printed
_SYMBOLS = {"Cel": "°C", "1": "", "m3": "m³", "m3/s": "m³/s"}

#: SI unit -> (factor, operator unit); ratios depend on the quantity (see :func:`operator_value`)
_OPERATOR = {
    "J": (1 / 3.6e6, "kWh"),
    "W": (1e-3, "kW"),
    "VA": (1e-3, "kVA"),
    "Pa": (1e-3, "kPa"),
    "s": (1 / 60, "min"),
    "m3/s": (3600.0, "m³/h"),
}


def si_text(value: float, unit: str) -> tuple[str, str]:
    """The SI value without an exponent for the large counters (``45,526,000,000``) and its printed symbol."""
    text = f"{value:,.0f}" if abs(value) >= 1e6 else f"{value:.6g}"
    return text, _SYMBOLS.get(unit, unit)


def operator_value(quantity: str, value: float, unit: str) -> tuple[float, str] | None:
    """The value in operator units (kWh, kW, %RH, %), or None when the SI one is what a site reads (V, A, °C)."""
    if unit == "1":
        if quantity == "economizer_enabled":
            return None
        return 100.0 * value, "%RH" if quantity.startswith("relative_humidity") else "%"
    if unit in _OPERATOR:
        factor, symbol = _OPERATOR[unit]
        return value * factor, symbol
    return None
