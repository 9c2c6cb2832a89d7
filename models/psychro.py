"""Psychrometrics at station pressure, thin vectorised wrappers over ``psychrolib``.

Wet-bulb temperature depends on pressure: Guiyang sits at about 1,100 m where the station pressure
is about 880 hPa, so every call takes the site pressure instead of assuming sea level.
"""

from __future__ import annotations

import numpy as np
import psychrolib
from numpy.typing import ArrayLike, NDArray

psychrolib.SetUnitSystem(psychrolib.SI)

#: sea-level standard atmosphere [Pa]: the pressure used when a site has no barometer
STANDARD_PRESSURE_PA = 101_325.0

__all__ = [
    "STANDARD_PRESSURE_PA",
    "dew_point_c",
    "relative_humidity_percent",
    "station_pressure_pa",
    "wet_bulb_c",
]


def station_pressure_pa(elevation_m: float) -> float:
    """Standard-atmosphere pressure at an elevation.

    Parameters
    ----------
    elevation_m : float
        Site elevation above mean sea level [m].

    Returns
    -------
    float
        Station pressure [Pa].

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), chapter 1, equation 3, as implemented by psychrolib.
    """
    return float(psychrolib.GetStandardAtmPressure(float(elevation_m)))


def wet_bulb_c(dry_bulb_c: ArrayLike, rh_percent: ArrayLike, pressure_pa: ArrayLike) -> NDArray[np.float64]:
    """Thermodynamic wet-bulb temperature.

    Parameters
    ----------
    dry_bulb_c : array_like
        Dry-bulb temperature [C].
    rh_percent : array_like
        Relative humidity [%], clipped to 1-100.
    pressure_pa : array_like
        Station pressure [Pa]; use the site's, not sea level.

    Returns
    -------
    numpy.ndarray
        Wet-bulb temperature [C], same shape as the broadcast inputs.

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), chapter 1; psychrolib ``GetTWetBulbFromRelHum``.
    """
    db, rh, p = np.broadcast_arrays(
        np.asarray(dry_bulb_c, dtype=float),
        np.clip(np.asarray(rh_percent, dtype=float), 1.0, 100.0) / 100.0,
        np.asarray(pressure_pa, dtype=float),
    )
    flat = [
        psychrolib.GetTWetBulbFromRelHum(float(t), float(r), float(pp))
        for t, r, pp in zip(db.ravel(), rh.ravel(), p.ravel(), strict=True)
    ]
    return np.asarray(flat, dtype=float).reshape(db.shape)


def dew_point_c(dry_bulb_c: ArrayLike, rh_percent: ArrayLike) -> NDArray[np.float64]:
    """Dew-point temperature from dry-bulb and relative humidity.

    Parameters
    ----------
    dry_bulb_c : array_like
        Dry-bulb temperature [C].
    rh_percent : array_like
        Relative humidity [%], clipped to 1-100.

    Returns
    -------
    numpy.ndarray
        Dew-point temperature [C].

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), chapter 1; psychrolib ``GetTDewPointFromRelHum``.
    """
    db, rh = np.broadcast_arrays(
        np.asarray(dry_bulb_c, dtype=float), np.clip(np.asarray(rh_percent, dtype=float), 1.0, 100.0) / 100.0
    )
    flat = [psychrolib.GetTDewPointFromRelHum(float(t), float(r)) for t, r in zip(db.ravel(), rh.ravel(), strict=True)]
    return np.asarray(flat, dtype=float).reshape(db.shape)


def relative_humidity_percent(dry_bulb_c: ArrayLike, dew_point_c: ArrayLike) -> NDArray[np.float64]:
    """Relative humidity from dry-bulb and dew point (dew point clipped to the dry-bulb).

    Parameters
    ----------
    dry_bulb_c : array_like
        Dry-bulb temperature [C].
    dew_point_c : array_like
        Dew-point temperature [C].

    Returns
    -------
    numpy.ndarray
        Relative humidity [%].

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), chapter 1; psychrolib ``GetRelHumFromTDewPoint``.
    """
    db, dp = np.broadcast_arrays(np.asarray(dry_bulb_c, dtype=float), np.asarray(dew_point_c, dtype=float))
    dp = np.minimum(dp, db)
    flat = [psychrolib.GetRelHumFromTDewPoint(float(t), float(d)) for t, d in zip(db.ravel(), dp.ravel(), strict=True)]
    return 100.0 * np.asarray(flat, dtype=float).reshape(db.shape)
