"""Hourly outdoor weather for the twin: EPW reader, synthetic typical year, interpolation.

Verbs follow pvlib's ``iotools``: ``read_*`` reads a file, ``synthetic_*`` generates, ``*_at`` samples.
Every series is one typical year (8,760 h) in local standard time; :func:`weather_at` maps UTC
instants onto it with the site's time-zone offset and wraps by year. Global horizontal irradiance
(GHI) rides along for the rooftop PV.

One module (over 400 lines): one weather series: reading EPW files, the synthetic year and sampling it share one
HourlyWeather type.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.psychro import dew_point_c, relative_humidity_percent, station_pressure_pa, wet_bulb_c
from twin.catalog import BUNDLED_SITES
from twin.solar import clear_sky_ghi_w_per_m2, day_length_h, sin_solar_elevation, sky_clearness_factor

__all__ = [
    "BUNDLED_SITES",
    "HOURS_PER_YEAR",
    "HourlyWeather",
    "OutdoorSeries",
    "load_site_weather",
    "read_epw",
    "read_normals",
    "synthetic_year",
    "weather_at",
]

HOURS_PER_YEAR = 8760
SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600.0

#: Dew points above this are treated as sensor/processing errors and clipped (the CSWD Chengdu file
#: has summer hours at 30-32 C; the highest credible Sichuan-basin dew points are about 28 C).
MAX_CREDIBLE_DEW_POINT_C = 28.0


@dataclass(frozen=True)
class HourlyWeather:
    """One typical year of hourly outdoor conditions, local standard time.

    Sample ``i`` describes local time ``(i + hour_offset_h)`` hours after 1 January 00:00.
    """

    site: str
    elevation_m: float
    utc_offset_h: float
    hour_offset_h: float
    dry_bulb_c: NDArray[np.float64]
    dew_point_c: NDArray[np.float64]
    rh_percent: NDArray[np.float64]
    pressure_pa: NDArray[np.float64]
    wet_bulb_c: NDArray[np.float64]
    ghi_w_per_m2: NDArray[np.float64]


@dataclass(frozen=True)
class OutdoorSeries:
    """Outdoor conditions sampled at simulation steps (all arrays shape ``(n_steps,)``)."""

    dry_bulb_c: NDArray[np.float64]
    wet_bulb_c: NDArray[np.float64]
    rh_percent: NDArray[np.float64]
    dew_point_c: NDArray[np.float64]
    pressure_pa: NDArray[np.float64]
    ghi_w_per_m2: NDArray[np.float64]


def _open_text(path: Path) -> Any:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="latin-1")
    return path.open("r", encoding="latin-1")


def read_epw(path: str | Path, max_dew_point_c: float = MAX_CREDIBLE_DEW_POINT_C) -> HourlyWeather:
    """Read an EnergyPlus weather (EPW) file, plain or gzipped.

    Dry-bulb, dew point, relative humidity and station pressure are EPW fields 7-10 (1-based), all
    instantaneous at the end of the hour; global horizontal radiation is field 14, the energy over
    the hour ending at the row's time [Wh/m2], i.e. the mean irradiance [W/m2] of that hour. Missing
    values (EPW codes 99.9, 999, 999999, 9999) are filled by linear interpolation; dew points are
    clipped to ``min(dry-bulb, max_dew_point_c)`` and the relative humidity recomputed where clipped.
    Wet-bulb is computed with psychrolib at the station pressure. The hourly mean irradiances,
    centred on the half hours, are put on the hour-end grid of the other fields as the mean of the
    two hours either side (the year wraps), which keeps the annual irradiation.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.epw`` or ``.epw.gz`` file with 8 header lines and 8,760 hourly rows.
    max_dew_point_c : float
        Credibility cap on dew point [C].

    Returns
    -------
    HourlyWeather
        With ``hour_offset_h = 1`` (EPW hour 1 is the hour ending 01:00).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a readable EPW file.

    References
    ----------
    EnergyPlus Auxiliary Programs, "Weather Converter Program", EPW data dictionary.
    """
    path = Path(path)
    with _open_text(path) as fh:
        lines = fh.read().splitlines()
    if not lines or not lines[0].startswith("LOCATION"):
        raise ValueError(f"{path}: not an EPW file (first line must start with LOCATION)")
    location = lines[0].split(",")
    try:
        site = location[1]
        utc_offset_h = float(location[8])
        elevation_m = float(location[9])
        rows = [line.split(",") for line in lines[8:] if line.strip()]
        fields = np.array(
            [[float(r[6]), float(r[7]), float(r[8]), float(r[9]), float(r[13])] for r in rows], dtype=float
        )
    except (IndexError, ValueError) as err:
        raise ValueError(f"{path}: malformed EPW content: {err}") from err
    if fields.shape[0] == 0:
        raise ValueError(f"{path}: no data rows")
    dry_bulb = _fill_missing(fields[:, 0], fields[:, 0] >= 99.9)
    dew_point = _fill_missing(fields[:, 1], fields[:, 1] >= 99.9)
    rh = _fill_missing(fields[:, 2], fields[:, 2] > 100.0)
    pressure = _fill_missing(fields[:, 3], fields[:, 3] >= 999999.0)
    ghi_hour_mean = np.maximum(_fill_missing(fields[:, 4], fields[:, 4] >= 9999.0), 0.0)
    clipped_dew_point = np.minimum(dew_point, np.minimum(dry_bulb, max_dew_point_c))
    was_clipped = clipped_dew_point < dew_point
    if np.any(was_clipped):
        rh = rh.copy()
        rh[was_clipped] = relative_humidity_percent(dry_bulb[was_clipped], clipped_dew_point[was_clipped])
    return HourlyWeather(
        site=site,
        elevation_m=elevation_m,
        utc_offset_h=utc_offset_h,
        hour_offset_h=1.0,
        dry_bulb_c=dry_bulb,
        dew_point_c=clipped_dew_point,
        rh_percent=rh,
        pressure_pa=pressure,
        wet_bulb_c=wet_bulb_c(dry_bulb, rh, pressure),
        ghi_w_per_m2=0.5 * (ghi_hour_mean + np.roll(ghi_hour_mean, -1)),
    )


def _fill_missing(values: NDArray[np.float64], missing: NDArray[np.bool_]) -> NDArray[np.float64]:
    if not np.any(missing):
        return values
    if np.all(missing):
        raise ValueError("an EPW column is entirely missing")
    index = np.arange(values.size)
    filled = values.copy()
    filled[missing] = np.interp(index[missing], index[~missing], values[~missing])
    return filled


def read_normals(path: str | Path) -> dict[str, Any]:
    """Read monthly climate normals (JSON, layout of ``guiyang-normals.json``).

    Parameters
    ----------
    path : str or pathlib.Path
        JSON file with 12-element lists ``mean_dry_bulb_c``, ``mean_daily_max_c``,
        ``mean_daily_min_c``, ``mean_relative_humidity_percent`` and optionally
        ``mean_station_pressure_hpa``, plus ``elevation_m``, ``latitude_deg``, ``longitude_deg`` and
        optionally ``annual_sunshine_hours`` (bright sunshine duration, for the irradiance).

    Returns
    -------
    dict
        The parsed normals.

    References
    ----------
    WMO, "WMO Guidelines on the Calculation of Climate Normals" (WMO-No. 1203, 2017).
    """
    with Path(path).open("r", encoding="utf-8") as fh:
        normals: dict[str, Any] = json.load(fh)
    for key in ("mean_dry_bulb_c", "mean_daily_max_c", "mean_daily_min_c", "mean_relative_humidity_percent"):
        if len(normals.get(key, [])) != 12:
            raise ValueError(f"{path}: '{key}' must hold 12 monthly values")
    for key in ("latitude_deg", "longitude_deg"):
        if not isinstance(normals.get(key), (int, float)):
            raise ValueError(f"{path}: '{key}' must be a number (the sun's position needs it)")
    return normals


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
_MONTH_MID_DAY = np.cumsum(_MONTH_DAYS) - _MONTH_DAYS / 2.0


def _ar1(rng: np.random.Generator, n: int, phi: float, std: float) -> NDArray[np.float64]:
    innovation_std = std * math.sqrt(1.0 - phi * phi)
    shocks = rng.normal(0.0, innovation_std, n)
    out = np.empty(n)
    out[0] = rng.normal(0.0, std)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def synthetic_year(
    normals: dict[str, Any],
    seed: int = 0,
    site: str = "synthetic",
    utc_offset_h: float = 8.0,
    day_to_day_phi: float = 0.7,
    mean_anomaly_std_c: float = 2.0,
    dew_point_anomaly_std_c: float = 1.5,
    swing_variation: float = 0.25,
    peak_hour: float = 15.0,
    relative_sunshine: float | None = None,
    sunshine_concentration: float = 2.0,
) -> HourlyWeather:
    """Generate a deterministic typical year from monthly normals.

    Daily mean temperature follows the monthly normals (linear between mid-months, cyclic) plus an
    AR(1) anomaly (day-to-day persistence); the diurnal swing is a cosine peaking at ``peak_hour``
    with half-amplitude (max - min) / 2 varied day to day; the dew point follows the monthly mean
    dew point (from mean dry-bulb and mean RH) plus a correlated AR(1) anomaly and is held through
    the day, so RH rises at night (capped at saturation).

    Irradiance is the Haurwitz clear-sky GHI at the sun's position times a daily sky-clearness
    factor from that day's relative sunshine (Angstrom-Prescott). Daily relative sunshine is drawn
    from a beta distribution with mean ``relative_sunshine`` (by default the normals'
    ``annual_sunshine_hours`` over the year's astronomical day length) from its own random stream,
    so the temperature and humidity series are those of the same seed without irradiance. A low
    concentration makes the distribution J-shaped, as in cloudy climates: many sunless days and a
    few clear ones. Temperature and sky are drawn independently (clear days do not swing more).

    Parameters
    ----------
    normals : dict
        As returned by :func:`read_normals`.
    seed : int
        Random seed; the same seed gives the same year.
    site : str
        Site label.
    utc_offset_h : float
        Local standard time minus UTC [h] (China Standard Time: 8).
    day_to_day_phi : float
        AR(1) coefficient of daily anomalies [-].
    mean_anomaly_std_c : float
        Standard deviation of the daily-mean temperature anomaly [K].
    dew_point_anomaly_std_c : float
        Standard deviation of the independent dew-point anomaly [K].
    swing_variation : float
        Relative day-to-day variation of the diurnal swing [-].
    peak_hour : float
        Local hour of the daily maximum [h].
    relative_sunshine : float, optional
        Mean sunshine duration over astronomical day length [-], 0-1; default from the normals'
        ``annual_sunshine_hours``.
    sunshine_concentration : float
        Sum of the beta distribution's two parameters [-]; lower means more day-to-day spread.

    Returns
    -------
    HourlyWeather
        With ``hour_offset_h = 0``. Station pressure from the normals if given, else from elevation.

    Raises
    ------
    ValueError
        If the normals lack ``latitude_deg``/``longitude_deg``, or lack ``annual_sunshine_hours``
        and no ``relative_sunshine`` is given.

    References
    ----------
    Box, Jenkins & Reinsel, "Time Series Analysis" (AR(1) processes); ASHRAE Handbook -
    Fundamentals (2017), chapter 14 (diurnal temperature profile peaking mid-afternoon);
    Haurwitz (1945) and Angstrom-Prescott via :mod:`twin.solar`.
    """
    rng = np.random.default_rng(seed)
    n_days = HOURS_PER_YEAR // 24
    day_mid = np.arange(n_days) + 0.5
    mean_c = np.interp(day_mid, _MONTH_MID_DAY, np.asarray(normals["mean_dry_bulb_c"], float), period=365.0)
    max_c = np.interp(day_mid, _MONTH_MID_DAY, np.asarray(normals["mean_daily_max_c"], float), period=365.0)
    min_c = np.interp(day_mid, _MONTH_MID_DAY, np.asarray(normals["mean_daily_min_c"], float), period=365.0)
    rh_month = np.asarray(normals["mean_relative_humidity_percent"], float)
    dew_month = dew_point_c(np.asarray(normals["mean_dry_bulb_c"], float), rh_month)
    dew_clim = np.interp(day_mid, _MONTH_MID_DAY, dew_month, period=365.0)

    temp_anomaly = _ar1(rng, n_days, day_to_day_phi, mean_anomaly_std_c)
    dew_anomaly = 0.6 * temp_anomaly + _ar1(rng, n_days, day_to_day_phi, dew_point_anomaly_std_c)
    swing_factor = np.clip(1.0 + rng.normal(0.0, swing_variation, n_days), 0.4, 1.6)
    daily_mean_c = mean_c + temp_anomaly
    half_swing_c = 0.5 * (max_c - min_c) * swing_factor
    daily_dew_c = dew_clim + dew_anomaly

    hour = np.arange(HOURS_PER_YEAR, dtype=float)
    hour_day = (hour + 0.5) / 24.0
    mean_h = np.interp(hour_day, day_mid, daily_mean_c, period=365.0)
    swing_h = np.interp(hour_day, day_mid, half_swing_c, period=365.0)
    dew_h = np.interp(hour_day, day_mid, daily_dew_c, period=365.0)
    dry_bulb = mean_h + swing_h * np.cos(2.0 * np.pi * ((hour % 24.0) - peak_hour) / 24.0)
    dew = np.minimum(dew_h, dry_bulb)
    rh = relative_humidity_percent(dry_bulb, dew)

    elevation_m = float(normals.get("elevation_m", 0.0))
    if "mean_station_pressure_hpa" in normals:
        pressure_month_pa = 100.0 * np.asarray(normals["mean_station_pressure_hpa"], float)
        pressure = np.interp(hour_day, _MONTH_MID_DAY, pressure_month_pa, period=365.0)
    else:
        pressure = np.full(HOURS_PER_YEAR, station_pressure_pa(elevation_m))
    ghi = _synthetic_ghi_w_per_m2(normals, seed, utc_offset_h, relative_sunshine, sunshine_concentration)
    return HourlyWeather(
        site=site,
        elevation_m=elevation_m,
        utc_offset_h=utc_offset_h,
        hour_offset_h=0.0,
        dry_bulb_c=dry_bulb,
        dew_point_c=dew,
        rh_percent=rh,
        pressure_pa=pressure,
        wet_bulb_c=wet_bulb_c(dry_bulb, rh, pressure),
        ghi_w_per_m2=ghi,
    )


#: Second entropy word of the sky's random stream (the temperature stream is seeded by ``seed`` alone).
_SKY_STREAM = 1


def _synthetic_ghi_w_per_m2(
    normals: dict[str, Any],
    seed: int,
    utc_offset_h: float,
    relative_sunshine: float | None,
    concentration: float,
) -> NDArray[np.float64]:
    try:
        latitude_deg = float(normals["latitude_deg"])
        longitude_deg = float(normals["longitude_deg"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"normals need numeric latitude_deg and longitude_deg: {err}") from err
    n_days = HOURS_PER_YEAR // 24
    if relative_sunshine is None:
        if "annual_sunshine_hours" not in normals:
            raise ValueError("normals have no annual_sunshine_hours; pass relative_sunshine")
        possible_h = float(day_length_h(np.arange(n_days), latitude_deg).sum())
        relative_sunshine = float(normals["annual_sunshine_hours"]) / possible_h
    mean = min(max(relative_sunshine, 0.01), 0.99)
    sky_rng = np.random.default_rng((seed, _SKY_STREAM))
    daily_sunshine = sky_rng.beta(mean * concentration, (1.0 - mean) * concentration, n_days)
    clearness = np.repeat(sky_clearness_factor(daily_sunshine), 24)
    hour = np.arange(HOURS_PER_YEAR, dtype=float)
    sin_elevation = sin_solar_elevation(hour, latitude_deg, longitude_deg, utc_offset_h)
    return np.asarray(clear_sky_ghi_w_per_m2(sin_elevation) * clearness, dtype=np.float64)


def load_site_weather(name_or_path: str, seed: int = 0) -> HourlyWeather:
    """Weather for a bundled site name (``guiyang``, ``chengdu``, ``chongqing``) or an EPW path.

    Parameters
    ----------
    name_or_path : str
        Bundled site name, or path to an ``.epw``/``.epw.gz`` file.
    seed : int
        Seed for the synthetic Guiyang year.

    Returns
    -------
    HourlyWeather

    References
    ----------
    See the package data README for the sources of the bundled files.
    """
    key = name_or_path.lower()
    if key in BUNDLED_SITES:
        resource = resources.files("twin") / "data" / BUNDLED_SITES[key]
        with resources.as_file(resource) as data_path:
            if key == "guiyang":
                return synthetic_year(read_normals(data_path), seed=seed, site="Guiyang")
            return read_epw(data_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"weather file not found: {path}")
    return read_epw(path)


def weather_at(weather: HourlyWeather, utc_epoch_s: NDArray[np.float64]) -> OutdoorSeries:
    """Sample hourly weather at UTC instants by linear interpolation, wrapping by year.

    Parameters
    ----------
    weather : HourlyWeather
        The typical year.
    utc_epoch_s : numpy.ndarray
        Instants as seconds since the Unix epoch [s], UTC.

    Returns
    -------
    OutdoorSeries
        Conditions at each instant; leap days are absorbed by the yearly wrap.

    References
    ----------
    EnergyPlus Engineering Reference, "Weather Data" (linear interpolation between hourly values).
    """
    seconds_of_year = _local_seconds_of_year(np.asarray(utc_epoch_s, float), weather.utc_offset_h)
    sample_s = (np.arange(weather.dry_bulb_c.size) + weather.hour_offset_h) * 3600.0

    def at(series: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.interp(seconds_of_year, sample_s, series, period=SECONDS_PER_YEAR)

    return OutdoorSeries(
        dry_bulb_c=at(weather.dry_bulb_c),
        wet_bulb_c=at(weather.wet_bulb_c),
        rh_percent=at(weather.rh_percent),
        dew_point_c=at(weather.dew_point_c),
        pressure_pa=at(weather.pressure_pa),
        ghi_w_per_m2=at(weather.ghi_w_per_m2),
    )


def _local_seconds_of_year(utc_epoch_s: NDArray[np.float64], utc_offset_h: float) -> NDArray[np.float64]:
    """Seconds since local 1 January 00:00 of the same year, folded to a 365-day year."""
    local_s = utc_epoch_s + utc_offset_h * 3600.0
    local_dt = local_s.astype("datetime64[s]")
    year_start = local_dt.astype("datetime64[Y]").astype("datetime64[s]")
    elapsed = (local_dt - year_start).astype(float) + (local_s - np.floor(local_s))
    return np.asarray(np.mod(elapsed, SECONDS_PER_YEAR), dtype=np.float64)
