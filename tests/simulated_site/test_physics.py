"""Known-answer checks of the twin's physics against standards.md and EnergyPlus figures."""

from __future__ import annotations

import numpy as np
import pytest

from models import psychro
from twin import cooling, power_chain, solar
from twin.it_load import server_fan_power_factor


def _full_load_cop(curves: cooling.ChillerCurves, chw_c: float, condenser_c: float) -> float:
    available = cooling.chiller_available_capacity_w(curves, chw_c, condenser_c, 1.0e6)
    power, _, _ = cooling.chiller_power_w(curves, available, chw_c, condenser_c, 1, 1.0e6)
    return float(available / power)


@pytest.mark.parametrize(("chw_c", "cop"), [(5.0, 5.15), (6.67, 5.51), (8.0, 5.72), (10.0, 5.88)])
def test_doe2_centrifugal_full_load_cop_matches_energyplus(chw_c: float, cop: float) -> None:
    curves = cooling.load_chiller_curves("DOE-2 Centrifugal/5.50COP")
    assert _full_load_cop(curves, chw_c, 29.4) == pytest.approx(cop, abs=0.01)


def test_chiller_inputs_clamped_to_fitted_range() -> None:
    curves = cooling.load_chiller_curves("DOE-2 Centrifugal/5.50COP")
    assert _full_load_cop(curves, 14.0, 29.4) == pytest.approx(_full_load_cop(curves, 10.0, 29.4))
    assert _full_load_cop(curves, 6.67, 18.0) == pytest.approx(_full_load_cop(curves, 6.67, 24.0))


def test_default_chiller_cop_rises_with_chw_and_falls_with_condenser() -> None:
    curves = cooling.load_chiller_curves()
    assert curves.reference_capacity_w == 816e3
    assert _full_load_cop(curves, 10.0, 24.0) > _full_load_cop(curves, 8.0, 24.0)
    assert _full_load_cop(curves, 8.0, 20.0) > _full_load_cop(curves, 8.0, 24.0)


def test_chiller_cycles_below_minimum_plr_and_reports_unmet_load() -> None:
    curves = cooling.load_chiller_curves()
    cap = float(cooling.chiller_available_capacity_w(curves, 8.0, 24.0))
    p_min, _, _ = cooling.chiller_power_w(curves, curves.plr_range[0] * cap, 8.0, 24.0, 1)
    p_half_min, _, _ = cooling.chiller_power_w(curves, 0.5 * curves.plr_range[0] * cap, 8.0, 24.0, 1)
    assert float(p_half_min) == pytest.approx(0.5 * float(p_min))
    _, _, unmet = cooling.chiller_power_w(curves, 2.5 * cap, 8.0, 24.0, 2)
    assert float(unmet) == pytest.approx(0.5 * cap)
    power, _, _ = cooling.chiller_power_w(curves, 1e5, 8.0, 24.0, 0)
    assert float(power) == 0.0


def test_tower_leaving_is_wet_bulb_plus_approach() -> None:
    np.testing.assert_allclose(cooling.tower_leaving_water_c([10.0, 21.5], 4.0), [14.0, 25.5])


@pytest.mark.parametrize(
    ("available_c", "fraction"),
    [(9.0, 1.0), (10.0, 1.0), (12.5, 0.5), (15.0, 0.0), (20.0, 0.0), (14.0, 0.2)],
)
def test_economizer_fraction_full_and_partial(available_c: float, fraction: float) -> None:
    assert float(cooling.free_cooling_fraction(available_c, 10.0, 15.0)) == pytest.approx(fraction)


def test_economizer_mode_respects_deadband_and_dwell() -> None:
    step_s = 300.0
    available = np.array([20, 13, 13, 20, 20, 20, 20, 20, 13, 13, 14.5], dtype=float)
    chw_return = np.full(available.size, 15.0)
    enabled = np.ones(available.size, dtype=bool)
    active, _, _ = cooling.economizer_mode(enabled, available, chw_return, step_s, 1.0, 1200.0)
    # on at step 1; off only once 20 min (4 steps) have passed; step 8 wants on but has dwelt only
    # 15 min; on at step 9; 14.5 C lies in the deadband (between return - 1 K and return), so it holds.
    assert active.tolist() == [False, True, True, True, True, False, False, False, False, True, True]
    disabled, _, _ = cooling.economizer_mode(~enabled, available, chw_return, step_s)
    assert not disabled.any()


def test_ups_loss_model_efficiency_band() -> None:
    rated_w = 1.0e6
    efficiency = power_chain.ups_efficiency(np.array([0.2, 0.4, 1.0]) * rated_w, rated_w)
    assert np.all((efficiency >= 0.90) & (efficiency <= 0.97))
    assert efficiency[0] < efficiency[1] < efficiency[2]
    loss = power_chain.ups_loss_w(0.5 * rated_w, rated_w, 0.01, 0.02, 0.04)
    assert float(loss) == pytest.approx(rated_w * (0.01 + 0.02 * 0.5 + 0.04 * 0.25))


def test_fan_affinity_cube_law() -> None:
    assert float(cooling.fan_power_w(0.5, 8000.0)) == pytest.approx(1000.0)


def test_airflow_from_heat_and_delta_t() -> None:
    density = float(cooling.air_density_kg_m3(88000.0, 25.0))
    assert density == pytest.approx(1.028, abs=0.005)
    assert float(cooling.airflow_m3_s(100e3, 10.0, density)) == pytest.approx(100e3 / (density * 1006.0 * 10.0))


def test_wet_bulb_at_880_hpa_is_below_sea_level_value() -> None:
    at_site = float(psychro.wet_bulb_c(25.0, 60.0, 88000.0))
    at_sea = float(psychro.wet_bulb_c(25.0, 60.0, 101325.0))
    assert 18.5 < at_site < at_sea < 20.0
    assert float(psychro.wet_bulb_c(20.0, 100.0, 88000.0)) == pytest.approx(20.0, abs=0.05)
    assert psychro.station_pressure_pa(1100.0) == pytest.approx(88790.0, rel=2e-3)


def test_server_fans_only_above_25c() -> None:
    factor = server_fan_power_factor(np.array([20.0, 25.0, 27.0]))
    assert factor[0] == factor[1] == 1.0
    assert 1.02 < factor[2] < 1.05


def test_haurwitz_clear_sky_and_no_sun_at_night() -> None:
    ghi = solar.clear_sky_ghi_w_per_m2(np.array([1.0, 0.5, 0.0, -0.3]))
    assert ghi[0] == pytest.approx(1098.0 * np.exp(-0.057))  # sun at the zenith
    assert ghi[1] == pytest.approx(1098.0 * 0.5 * np.exp(-0.114))
    assert ghi[2] == ghi[3] == 0.0
    midnight = solar.sin_solar_elevation(np.array([0.0, 24.0 * 180]), 26.6, 106.7, 8.0)
    assert np.all(midnight < 0.0)


def test_guiyang_solstice_noon_elevation_and_day_length() -> None:
    hours = 24.0 * 171 + np.arange(0.0, 24.0, 1.0 / 60.0)  # 21 June, local standard time
    sin_h = solar.sin_solar_elevation(hours, 26.6, 106.7, 8.0)
    assert np.degrees(np.arcsin(sin_h.max())) == pytest.approx(90.0 - 26.6 + 23.44, abs=0.3)
    # solar noon falls about 53 min after 12:00 Beijing time (106.7 E against the 120 E meridian)
    assert hours[sin_h.argmax()] % 24.0 == pytest.approx(12.0 + 53.2 / 60.0, abs=0.1)
    assert float(solar.day_length_h(171, 26.6)) == pytest.approx(13.67, abs=0.05)
    assert float(solar.day_length_h(79, 0.0)) == pytest.approx(12.0)


def test_sky_clearness_spans_sunless_to_clear() -> None:
    np.testing.assert_allclose(solar.sky_clearness_factor([0.0, 1.0, 0.5], 0.2), [0.2, 1.0, 0.6])
    assert float(solar.sky_clearness_factor(0.0, 0.25 / 0.75)) == pytest.approx(1.0 / 3.0)  # FAO-56 a, b


def test_pv_rated_times_derate_at_stc_and_nothing_in_the_dark() -> None:
    assert float(solar.pv_cell_temp_c(20.0, 800.0)) == pytest.approx(45.0)  # NOCT
    stc_air_c = 25.0 - 1000.0 / 800.0 * 25.0  # air temperature that puts the cell at 25 C
    assert float(solar.pv_power_w(1000.0, stc_air_c, 150e3)) == pytest.approx(150e3 * 0.86)
    assert float(solar.pv_power_w(0.0, 20.0, 150e3)) == 0.0
    hot = float(solar.pv_power_w(1000.0, stc_air_c + 10.0, 150e3, -0.004, 0.86))
    assert hot == pytest.approx(150e3 * 0.86 * (1.0 - 0.04))


def test_tower_makeup_water_is_evaporation_plus_blowdown() -> None:
    heat_w, cycles = 1.0e6, 4.0
    expected_m3_s = heat_w / 2.43e6 * cycles / (cycles - 1.0) / cooling.WATER_DENSITY_KG_M3
    assert float(cooling.tower_makeup_water_m3_per_s(heat_w, cycles)) == pytest.approx(expected_m3_s)
    assert float(cooling.tower_makeup_water_m3_per_s(heat_w, 6.0)) < float(
        cooling.tower_makeup_water_m3_per_s(heat_w, 3.0)
    )
    assert float(cooling.tower_makeup_water_m3_per_s(-5.0)) == 0.0
    with pytest.raises(ValueError, match="cycles"):
        cooling.tower_makeup_water_m3_per_s(heat_w, 1.0)


def test_heat_reuse_follows_degree_hours_and_is_capped_by_the_loop() -> None:
    reused = cooling.reused_heat_w([1.0e6, 1.0e6, 1.0e6, 50.0e3], [20.0, 15.0, 5.0, -5.0], 10.0e3, 15.0)
    np.testing.assert_allclose(reused, [0.0, 0.0, 100.0e3, 50.0e3])
