"""The twin's ageing option: chillers whose COP has fallen draw more power for the same load; the hall is unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from twin.design import Controls, SiteDesign
from twin.site import SiteConditions, SitePlant

WARM = SiteConditions(28.0, 22.0, 60.0, 101325.0, (0.6,) * 40)  # chillers carry the whole load


def test_aged_chillers_draw_power_over_the_cop_factor() -> None:
    new = SitePlant(SiteDesign()).step(WARM, Controls(), 3600.0)
    aged = SitePlant(SiteDesign(chiller_cop_factor=0.8)).step(WARM, Controls(), 3600.0)
    assert new.chiller_power_w > 0
    assert aged.chiller_power_w == pytest.approx(new.chiller_power_w / 0.8)
    extra_w = aged.chiller_power_w - new.chiller_power_w
    # the towers reject the extra compressor heat too: a little more tower fan power, nothing else
    assert extra_w <= aged.facility_power_w - new.facility_power_w <= 1.05 * extra_w
    assert aged.rack_inlet_c == new.rack_inlet_c and aged.it_power_w == new.it_power_w


def test_new_plant_is_the_default_and_factor_is_checked() -> None:
    assert SiteDesign().chiller_cop_factor == 1.0
    for bad in (0.0, 1.2):
        with pytest.raises(ValueError, match="chiller_cop_factor"):
            replace(SiteDesign(), chiller_cop_factor=bad)
