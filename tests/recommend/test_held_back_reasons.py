"""A recommendation held back says which constraint bound, with its numbers, and it is true (issue 18)."""

from __future__ import annotations

import re

from agent.control.engine import Conditions, Recommender, Setpoints
from models.optimiser import SetpointSupport
from tests.recommend.conftest import FakePlant

COND = Conditions(it_power_w=800e3, outdoor_dry_bulb_c=12.0, outdoor_wet_bulb_c=8.0)
START = Setpoints(18.0, 7.0, False)


def test_too_hot_everywhere_quotes_the_coolest_candidate() -> None:
    rec = Recommender(FakePlant(), inlet_limit_c=22.0).recommend(0.0, COND, START, data_ok=True)
    reason = rec.held_back_reason
    assert reason is not None and "inlet limit" in reason
    # FakePlant: inlet = max(supply, chw + 5) + 5.5 K, std 0.1 K: the coolest within one step is 17 C / 6 C
    assert "supply air 17-19 C, chilled water 6-8 C" in reason
    assert reason.startswith("every allowed setpoint is predicted above the inlet limit: of the ")
    assert "the coolest, supply air 17 C / chilled water 6 C" in reason
    match = re.search(r"predicted hottest inlet ([\d.]+) C \+ 2 x ([\d.]+) C uncertainty = ([\d.]+) C", reason)
    assert match is not None, reason
    assert float(match.group(1)) == 22.5 and float(match.group(3)) == 22.7


def test_no_candidate_in_the_data_support_says_so_not_the_inlet_limit() -> None:
    """The demo's model was trained with the economizer always on: with the economizer kept off by the dwell,
    nothing of the rate-limited range is in its support. The old reason blamed the inlet limit (issue 18)."""
    support = SetpointSupport.from_samples([16.0, 22.0, 19.0], [5.0, 13.0, 9.0], [True, True, True], margin_k=4.0)
    recommender = Recommender(FakePlant(support=support), economizer_min_dwell_s=1200.0)
    recommender.recommend(0.0, COND, Setpoints(18.0, 7.0, True), data_ok=True)
    # the plant's economizer went off at t = 10 s: for the next 1200 s it must stay off
    rec = recommender.recommend(10.0, COND, START, data_ok=True)
    reason = rec.held_back_reason
    assert reason is not None and "inlet limit" not in reason, reason
    assert "data support" in reason and "no rows with the economizer off" in reason
    assert "economizer off (kept off for another 1200 s of economizer_min_dwell_s 1200 s)" in reason


def test_rate_limits_name_the_window() -> None:
    recommender = Recommender(FakePlant(), max_step_c=1.0, max_change_per_h_c=1.0)
    recommender.applied(0.0, Setpoints(18.0, 7.0, False))
    # an operator moved the supply air to 21 C by hand: 3 K from 18 C within the hour, max 1 K an hour
    rec = recommender.recommend(60.0, COND, Setpoints(21.0, 7.0, False), data_ok=True)
    reason = rec.held_back_reason
    assert reason is not None and reason.startswith("rate limits leave no setpoint inside the configured bounds")
    assert "within the last hour supply air 18-21 C" in reason and "max_change_per_h_c 1" in reason
