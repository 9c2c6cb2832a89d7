"""EPW reading and synthetic weather."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.weather import load_site_weather, read_epw, read_normals, synthetic_year, weather_at

FIXTURES = Path(__file__).parent / "fixtures"


def test_read_trimmed_epw() -> None:
    weather = read_epw(FIXTURES / "chengdu_first48h.epw")
    assert weather.site == "Chengdu"
    assert weather.elevation_m == pytest.approx(506.1)
    assert weather.utc_offset_h == 8.0
    assert weather.dry_bulb_c.size == 48
    assert weather.dry_bulb_c[0] == pytest.approx(3.0)
    assert weather.dew_point_c[0] == pytest.approx(0.0)
    assert weather.rh_percent[0] == pytest.approx(81.0)
    assert weather.pressure_pa[0] == pytest.approx(97090.0)
    assert np.all(weather.wet_bulb_c <= weather.dry_bulb_c + 1e-9)
    assert np.all(weather.wet_bulb_c >= weather.dew_point_c - 1e-9)


def test_read_epw_rejects_non_epw(tmp_path: Path) -> None:
    bad = tmp_path / "bad.epw"
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match="not an EPW"):
        read_epw(bad)


def test_synthetic_guiyang_year_matches_normals_and_is_deterministic() -> None:
    normals = read_normals(FIXTURES / "guiyang-normals.json")
    a = synthetic_year(normals, seed=3)
    b = synthetic_year(normals, seed=3)
    np.testing.assert_array_equal(a.dry_bulb_c, b.dry_bulb_c)
    monthly = a.dry_bulb_c[:8736].reshape(12, -1).mean(axis=1)
    np.testing.assert_allclose(monthly, normals["mean_dry_bulb_c"], atol=2.5)
    assert 86000 < a.pressure_pa.mean() < 90000
    assert 70 < a.rh_percent.mean() < 85
    assert np.all(a.dew_point_c <= a.dry_bulb_c)


def test_interpolation_hits_hourly_samples_and_wraps() -> None:
    weather = load_site_weather("guiyang")
    epoch_local_midnight = np.datetime64("2026-01-01T00:00:00").astype("datetime64[s]").astype(float) - 8 * 3600
    at = weather_at(
        weather,
        np.array([epoch_local_midnight, epoch_local_midnight + 3600.0, epoch_local_midnight + 1800.0]),
    )
    assert at.dry_bulb_c[0] == pytest.approx(weather.dry_bulb_c[0])
    assert at.dry_bulb_c[1] == pytest.approx(weather.dry_bulb_c[1])
    assert at.dry_bulb_c[2] == pytest.approx(0.5 * (weather.dry_bulb_c[0] + weather.dry_bulb_c[1]))


def test_epw_irradiance_is_field_14_moved_to_the_hour_ends() -> None:
    rows = (FIXTURES / "chengdu_first48h.epw").read_text(encoding="latin-1").splitlines()[8:]
    hour_means = np.array([float(r.split(",")[13]) for r in rows if r.strip()])
    weather = read_epw(FIXTURES / "chengdu_first48h.epw")
    assert weather.ghi_w_per_m2.sum() == pytest.approx(hour_means.sum())  # irradiation kept
    noon = 11  # the row for the hour ending 12:00
    assert weather.ghi_w_per_m2[noon] == pytest.approx(0.5 * (hour_means[noon] + hour_means[noon + 1]))
    assert weather.ghi_w_per_m2[:6].max() == 0.0  # night


def test_synthetic_sky_has_its_own_random_stream_and_matches_guiyang_sunshine() -> None:
    normals = read_normals(FIXTURES / "guiyang-normals.json")
    cloudy = synthetic_year(normals, seed=3, relative_sunshine=0.1)
    sunny = synthetic_year(normals, seed=3, relative_sunshine=0.6)
    for name in ("dry_bulb_c", "wet_bulb_c", "rh_percent", "dew_point_c", "pressure_pa"):
        np.testing.assert_array_equal(getattr(cloudy, name), getattr(sunny, name))
    assert cloudy.ghi_w_per_m2.sum() < sunny.ghi_w_per_m2.sum()
    guiyang = synthetic_year(normals, seed=3)
    local_hour = np.arange(guiyang.ghi_w_per_m2.size) % 24
    assert guiyang.ghi_w_per_m2[(local_hour < 5) | (local_hour > 21)].max() == 0.0
    assert guiyang.ghi_w_per_m2.max() < 1098.0
    # about 900-1,000 kWh/m2 a year: as little as the Sichuan basin (Chengdu's CSWD year: 900)
    assert 850.0 < guiyang.ghi_w_per_m2.sum() / 1e3 < 1050.0


def test_normals_without_sunshine_or_position_are_refused(tmp_path: Path) -> None:
    normals = read_normals(FIXTURES / "guiyang-normals.json")
    del normals["annual_sunshine_hours"]
    with pytest.raises(ValueError, match="annual_sunshine_hours"):
        synthetic_year(normals)
    assert synthetic_year(normals, relative_sunshine=0.26).ghi_w_per_m2.max() > 0.0
    text = (FIXTURES / "guiyang-normals.json").read_text().replace('"latitude_deg"', '"lat"')
    (tmp_path / "n.json").write_text(text)
    with pytest.raises(ValueError, match="latitude_deg"):
        read_normals(tmp_path / "n.json")
