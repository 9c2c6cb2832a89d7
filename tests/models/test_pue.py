import pytest

from models.pue import energy_pue, live_pue, sum_boundary


def test_live_pue_is_ratio_of_complete_sums() -> None:
    fac = sum_boundary({"meter": 150_000.0}, ["meter"])
    it = sum_boundary({"ups-a": 60_000.0, "ups-b": 40_000.0}, ["ups-a", "ups-b"])
    result = live_pue(fac, it)
    assert result.valid and result.value == pytest.approx(1.5)


def test_missing_contributor_makes_pue_invalid_never_partial() -> None:
    fac = sum_boundary({"meter": 150_000.0}, ["meter"])
    it = sum_boundary({"ups-a": 60_000.0, "ups-b": None}, ["ups-a", "ups-b"])
    assert it.value is None and it.coverage_ratio == 0.5
    result = live_pue(fac, it)
    assert result.value is None
    assert "ups-b" in (result.reason or "")


def test_facility_below_it_is_refused_with_reason() -> None:
    result = energy_pue(sum_boundary({"m": 90.0}, ["m"]), sum_boundary({"u": 100.0}, ["u"]))
    assert result.value is None and "facility below IT" in (result.reason or "")


def test_zero_it_is_refused() -> None:
    assert energy_pue(sum_boundary({"m": 1.0}, ["m"]), sum_boundary({"u": 0.0}, ["u"])).value is None


def test_pue_outside_the_plausible_range_is_refused_with_reason() -> None:
    """Issue 19: a meter answering 2^31-1 W gave PUE 16,758, valid."""
    fac = sum_boundary({"meter": 2_147_483_647.0}, ["meter"])
    it = sum_boundary({"ups-a": 128_140.0}, ["ups-a"])
    result = live_pue(fac, it)
    assert result.value is None
    assert "outside the plausible range 1-3" in (result.reason or "")
    assert energy_pue(fac, it, (1.0, 20_000.0)).valid
    assert live_pue(sum_boundary({"m": 1.05}, ["m"]), sum_boundary({"u": 1.0}, ["u"]), (1.1, 2.0)).value is None


def test_reason_names_why_a_contributor_is_missing() -> None:
    fac = sum_boundary({"meter": 150_000.0}, ["meter"])
    it = sum_boundary(
        {"ups-a": 60_000.0, "ups-b": None, "ups-c": None},
        ["ups-a", "ups-b", "ups-c"],
        {"ups-b": "1.3.6.1.2.1.33.1.4.4.1.4.2: active_power_w: -1 below physical minimum 0"},
    )
    reason = live_pue(fac, it).reason or ""
    assert reason == (
        "missing data from: ups-b (1.3.6.1.2.1.33.1.4.4.1.4.2: active_power_w: -1 below physical minimum 0), ups-c"
    )
