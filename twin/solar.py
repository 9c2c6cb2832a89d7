"""Sun and rooftop PV: solar elevation, clear-sky irradiance, day length and PV output.

Pure functions on arrays; times are hours since local 1 January 00:00 in local standard time,
angles in degrees at the interface, irradiance in W/m2, powers in W.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SUNLESS_DAY_CLEARNESS",
    "clear_sky_ghi_w_per_m2",
    "day_length_h",
    "pv_cell_temp_c",
    "pv_power_w",
    "sin_solar_elevation",
    "sky_clearness_factor",
]

#: Irradiance of a sunless day as a share of the clear sky's, a / (a + b) of Angstrom-Prescott.
#: FAO-56's general a = 0.25, b = 0.50 give 1/3, which with the Haurwitz clear sky puts Chengdu at
#: 1,190 kWh/m2 a year; 0.17 reproduces the bundled Chengdu CSWD year (900 kWh/m2 from the commonly
#: cited 1,152 h of sunshine, relative sunshine 0.26): the thick overcast of the Sichuan basin and
#: the Guizhou plateau, whose sunshine (Guiyang 1,148 h) matches it.
SUNLESS_DAY_CLEARNESS = 0.17

#: Haurwitz clear-sky model constants [W/m2] and [-].
_HAURWITZ_W_PER_M2 = 1098.0
_HAURWITZ_EXTINCTION = 0.057

#: NOCT test conditions: 800 W/m2, 20 C air, 1 m/s wind; NOCT of common glass-backsheet modules 45 C.
_NOCT_IRRADIANCE_W_PER_M2 = 800.0
_NOCT_RISE_K = 25.0


def _day_angle_rad(hours_of_year: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(2.0 * np.pi * (hours_of_year / 24.0) / 365.0, dtype=np.float64)


def _declination_rad(day_angle: NDArray[np.float64]) -> NDArray[np.float64]:
    """Spencer (1971) Fourier series for the solar declination [rad]."""
    g = day_angle
    return np.asarray(
        0.006918
        - 0.399912 * np.cos(g)
        + 0.070257 * np.sin(g)
        - 0.006758 * np.cos(2 * g)
        + 0.000907 * np.sin(2 * g)
        - 0.002697 * np.cos(3 * g)
        + 0.00148 * np.sin(3 * g),
        dtype=np.float64,
    )


def _equation_of_time_min(day_angle: NDArray[np.float64]) -> NDArray[np.float64]:
    """Spencer (1971) Fourier series for the equation of time [min]."""
    g = day_angle
    return np.asarray(
        229.18
        * (
            0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g) - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g)
        ),
        dtype=np.float64,
    )


def sin_solar_elevation(
    local_hours_of_year: ArrayLike, latitude_deg: float, longitude_deg: float, utc_offset_h: float
) -> NDArray[np.float64]:
    """Sine of the solar elevation angle (negative below the horizon).

    Apparent solar time = local standard time + 4 min/deg x (longitude - 15 deg/h x UTC offset) +
    equation of time; hour angle 15 deg/h from solar noon;
    ``sin(h) = sin(lat) sin(decl) + cos(lat) cos(decl) cos(hour angle)``.

    Parameters
    ----------
    local_hours_of_year : array_like
        Hours since 1 January 00:00, local standard time [h] (a 365-day year).
    latitude_deg, longitude_deg : float
        Site latitude (north positive) and longitude (east positive) [deg].
    utc_offset_h : float
        Local standard time minus UTC [h].

    Returns
    -------
    numpy.ndarray
        sin(solar elevation) [-].

    References
    ----------
    Spencer, J. W. (1971), "Fourier series representation of the position of the sun", Search 2(5),
    172; Duffie & Beckman, "Solar Engineering of Thermal Processes" (4th ed., 2013), chapter 1.
    """
    hours = np.asarray(local_hours_of_year, dtype=float)
    day_angle = _day_angle_rad(hours)
    declination = _declination_rad(day_angle)
    solar_time_h = (
        hours % 24.0 + (4.0 * (longitude_deg - 15.0 * utc_offset_h) + _equation_of_time_min(day_angle)) / 60.0
    )
    hour_angle = np.radians(15.0 * (solar_time_h - 12.0))
    latitude = np.radians(latitude_deg)
    return np.asarray(
        np.sin(latitude) * np.sin(declination) + np.cos(latitude) * np.cos(declination) * np.cos(hour_angle),
        dtype=np.float64,
    )


def day_length_h(day_of_year: ArrayLike, latitude_deg: float) -> NDArray[np.float64]:
    """Astronomical day length, sunrise to sunset, ``N = 24 / pi x arccos(-tan(lat) tan(decl))``.

    Parameters
    ----------
    day_of_year : array_like
        Day number, 0 = 1 January [d] (fractions allowed).
    latitude_deg : float
        Site latitude [deg].

    Returns
    -------
    numpy.ndarray
        Day length [h] (the maximum possible sunshine duration of Angstrom-Prescott).

    References
    ----------
    Allen, Pereira, Raes & Smith (1998), FAO Irrigation and Drainage Paper 56, eq. 25 and 34.
    """
    declination = _declination_rad(_day_angle_rad(24.0 * np.asarray(day_of_year, dtype=float) + 12.0))
    cos_sunset = np.clip(-np.tan(np.radians(latitude_deg)) * np.tan(declination), -1.0, 1.0)
    return np.asarray(24.0 / np.pi * np.arccos(cos_sunset), dtype=np.float64)


def clear_sky_ghi_w_per_m2(sin_elevation: ArrayLike) -> NDArray[np.float64]:
    """Clear-sky global horizontal irradiance by the Haurwitz model (0 with the sun down).

    ``GHI = 1098 x sin(h) x exp(-0.057 / sin(h))`` for ``sin(h) > 0``.

    Parameters
    ----------
    sin_elevation : array_like
        sin(solar elevation) [-].

    Returns
    -------
    numpy.ndarray
        Clear-sky GHI [W/m2].

    References
    ----------
    Haurwitz, B. (1945), "Insolation in relation to cloudiness and cloud density", Journal of
    Meteorology 2, 154-166; Reno, Hansen & Stein (2012), "Global horizontal irradiance clear sky
    models: implementation and analysis", Sandia report SAND2012-2389 (the Haurwitz model ranks
    among the best of the models needing only the sun's position).
    """
    s = np.asarray(sin_elevation, dtype=float)
    up = s > 0.0
    safe = np.where(up, s, 1.0)
    ghi = _HAURWITZ_W_PER_M2 * safe * np.exp(-_HAURWITZ_EXTINCTION / safe)
    return np.asarray(np.where(up, ghi, 0.0), dtype=np.float64)


def sky_clearness_factor(
    relative_sunshine: ArrayLike, sunless_day_clearness: float = SUNLESS_DAY_CLEARNESS
) -> NDArray[np.float64]:
    """Global over clear-sky radiation from relative sunshine duration (Angstrom-Prescott).

    Angstrom-Prescott, ``H / H0 = a + b x n/N``, divided by its clear-sky value ``a + b``:
    ``k0 + (1 - k0) x n/N`` with ``k0 = a / (a + b)``, the share of a sunless day, and 1 on a
    cloudless one.

    Parameters
    ----------
    relative_sunshine : array_like
        Sunshine hours over astronomical day length n/N [-], 0-1.
    sunless_day_clearness : float
        ``a / (a + b)`` [-]: 1/3 with FAO-56's general coefficients; default calibrated for
        south-west China (:data:`SUNLESS_DAY_CLEARNESS`).

    Returns
    -------
    numpy.ndarray
        Factor on clear-sky irradiance [-].

    References
    ----------
    Angstrom, A. (1924), Quarterly Journal of the Royal Meteorological Society 50, 121-126;
    Prescott, J. A. (1940), Transactions of the Royal Society of South Australia 64, 114-118;
    Allen et al. (1998), FAO Irrigation and Drainage Paper 56, eq. 35-37.
    """
    sigma = np.clip(np.asarray(relative_sunshine, dtype=float), 0.0, 1.0)
    return np.asarray(sunless_day_clearness + (1.0 - sunless_day_clearness) * sigma, dtype=np.float64)


def pv_cell_temp_c(air_temp_c: ArrayLike, poa_irradiance_w_per_m2: ArrayLike) -> NDArray[np.float64]:
    """PV cell temperature by the NOCT model, ``T_cell = T_air + G / 800 x 25 K`` (NOCT 45 C).

    Parameters
    ----------
    air_temp_c : array_like
        Outdoor dry-bulb [C].
    poa_irradiance_w_per_m2 : array_like
        Irradiance on the module plane [W/m2].

    Returns
    -------
    numpy.ndarray
        Cell temperature [C].

    References
    ----------
    Duffie & Beckman, "Solar Engineering of Thermal Processes" (4th ed., 2013), section 23.3
    (NOCT: 800 W/m2, 20 C air, 1 m/s wind).
    """
    rise_k = np.asarray(poa_irradiance_w_per_m2, dtype=float) / _NOCT_IRRADIANCE_W_PER_M2 * _NOCT_RISE_K
    return np.asarray(np.asarray(air_temp_c, dtype=float) + rise_k, dtype=np.float64)


def pv_power_w(
    ghi_w_per_m2: ArrayLike,
    air_temp_c: ArrayLike,
    rated_power_w: float,
    temp_coefficient_per_k: float = -0.004,
    derate: float = 0.86,
) -> NDArray[np.float64]:
    """AC output of a flat (horizontal) rooftop array, PVWatts v5 power model.

    ``P = rated x G / 1000 x (1 + gamma x (T_cell - 25)) x derate`` with the plane-of-array
    irradiance G equal to GHI (horizontal modules: no transposition), the cell temperature from
    :func:`pv_cell_temp_c` (PVWatts itself uses a heat-transfer cell model), and ``derate`` PVWatts'
    default system losses (14 %: soiling, shading, snow, mismatch, wiring, connections,
    light-induced degradation, nameplate rating, age, availability). The inverter's own efficiency
    (about 96 %) is not applied separately, a simplification. Never negative.

    Parameters
    ----------
    ghi_w_per_m2 : array_like
        Global horizontal irradiance [W/m2].
    air_temp_c : array_like
        Outdoor dry-bulb [C].
    rated_power_w : float
        DC nameplate at STC (1000 W/m2, 25 C cell) [W] ("kWp").
    temp_coefficient_per_k : float
        Power temperature coefficient gamma [1/K]: crystalline silicon -0.0035 to -0.0047
        (PVWatts v5: -0.0047 standard, -0.0035 premium modules).
    derate : float
        Overall system derate [-] (PVWatts v5 default losses 14 % -> 0.86).

    Returns
    -------
    numpy.ndarray
        PV power delivered to the site bus [W].

    References
    ----------
    Dobos, A. P. (2014), "PVWatts Version 5 Manual", NREL/TP-6A20-62641, National Renewable Energy
    Laboratory (module power model, temperature coefficients and default system losses).
    """
    ghi = np.maximum(np.asarray(ghi_w_per_m2, dtype=float), 0.0)
    cell_c = pv_cell_temp_c(air_temp_c, ghi)
    power = rated_power_w * ghi / 1000.0 * (1.0 + temp_coefficient_per_k * (cell_c - 25.0)) * derate
    return np.asarray(np.maximum(power, 0.0), dtype=np.float64)
