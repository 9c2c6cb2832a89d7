"""IT load: rack power from utilisation traces, server fan power rising with inlet temperature."""

from __future__ import annotations

from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "UTILISATION_TRACES",
    "load_utilisation_trace",
    "rack_utilisation",
    "server_fan_power_factor",
    "server_power_w",
]

#: Bundled hourly CPU utilisation traces (one typical year, 8,760 values, fraction 0-1).
UTILISATION_TRACES: dict[str, str] = {
    "google": "utilisation_google_hourly.csv",
    "alibaba": "utilisation_alibaba_hourly.csv",
}


def load_utilisation_trace(name: str) -> NDArray[np.float64]:
    """Hourly CPU utilisation trace bundled with the package.

    Parameters
    ----------
    name : str
        ``google`` or ``alibaba``.

    Returns
    -------
    numpy.ndarray
        8,760 hourly utilisations [-] in 0-1.

    References
    ----------
    HewlettPackard/dc-rl (SustainDC benchmark), derived from the Google and Alibaba cluster traces.
    """
    resource = resources.files("twin") / "data" / UTILISATION_TRACES[name]
    text = resource.read_text(encoding="utf-8")
    return np.asarray([float(v) for v in text.split()[1:]], dtype=float)


def rack_utilisation(
    traces: NDArray[np.float64], trace_of_rack: NDArray[np.int_], gain_of_rack: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per-rack utilisation from tenant traces, scaled per rack.

    Parameters
    ----------
    traces : numpy.ndarray
        Tenant utilisation, shape ``(n_steps, n_traces)`` [-].
    trace_of_rack : numpy.ndarray
        Index of the trace each rack follows, shape ``(n_racks,)``.
    gain_of_rack : numpy.ndarray
        Multiplier on the trace per rack [-], shape ``(n_racks,)``.

    Returns
    -------
    numpy.ndarray
        Utilisation [-], shape ``(n_steps, n_racks)``, clipped to 0-1.
    """
    return np.clip(traces[:, trace_of_rack] * gain_of_rack, 0.0, 1.0)


def server_fan_power_factor(
    inlet_c: ArrayLike,
    fan_share_at_reference: float = 0.05,
    reference_inlet_c: float = 25.0,
    fan_speed_gain_per_k: float = 0.08,
) -> NDArray[np.float64]:
    """Multiplier on server power from fans speeding up above a reference inlet temperature.

    Below ``reference_inlet_c`` fans hold their speed; above it speed rises by
    ``fan_speed_gain_per_k`` per kelvin and fan power with the cube of speed (affinity law).
    Assumption (configurable): fans draw 5 % of server power at 25 C and speed up 8 %/K, so a
    server at 27 C draws about 3.6 % more, at 32 C about 15 % more, which is the order of the
    server power rise in ASHRAE TC 9.9's 2011 whitepaper (figure "server power increase vs
    ambient temperature", allowable classes A2-A4).

    Parameters
    ----------
    inlet_c : array_like
        Server inlet air temperature [C].
    fan_share_at_reference : float
        Fan share of server power at or below the reference [-].
    reference_inlet_c : float
        Inlet temperature above which fans speed up [C].
    fan_speed_gain_per_k : float
        Relative fan speed increase per kelvin above the reference [1/K].

    Returns
    -------
    numpy.ndarray
        Factor >= 1 [-].

    References
    ----------
    ASHRAE TC 9.9, "2011 Thermal Guidelines for Data Processing Environments - Expanded Data Center
    Classes and Usage Guidance" (2011).
    """
    excess_k = np.maximum(np.asarray(inlet_c, dtype=float) - reference_inlet_c, 0.0)
    relative_speed = 1.0 + fan_speed_gain_per_k * excess_k
    return 1.0 + fan_share_at_reference * (relative_speed**3 - 1.0)


def server_power_w(utilisation: ArrayLike, idle_power_w: ArrayLike, peak_power_w: ArrayLike) -> NDArray[np.float64]:
    """Linear utilisation-to-power model at reference inlet temperature.

    Parameters
    ----------
    utilisation : array_like
        CPU utilisation [-], 0-1.
    idle_power_w, peak_power_w : array_like
        Power at 0 % and 100 % utilisation [W].

    Returns
    -------
    numpy.ndarray
        Power [W] = idle + (peak - idle) * utilisation.

    References
    ----------
    Fan, Weber & Barroso, "Power provisioning for a warehouse-sized computer", ISCA 2007.
    """
    idle = np.asarray(idle_power_w, dtype=float)
    return np.asarray(
        idle + (np.asarray(peak_power_w, dtype=float) - idle) * np.asarray(utilisation, dtype=float), dtype=np.float64
    )
