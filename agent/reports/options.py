"""Report options the command line offers before any report code loads (keeps ``pue-agent --help`` fast).

:mod:`agent.reports.report` uses the same values; this module imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_OUTSIDE_SHARE", "EXTRAPOLATION_CHOICES", "IT_LOAD_CHOICES"]

#: How IT energy enters the baseline: ``regressor`` normalises on each reporting day's IT energy (and so
#: credits any IT change the measure causes at the model's IT coefficient); ``static`` holds IT as a
#: static factor (no IT term: the measure's effect on IT energy counts against the saving, and an IT
#: change not caused by the measure needs a non-routine adjustment).
IT_LOAD_CHOICES = ("regressor", "static")
#: What to do when the reporting period's conditions lie outside the baseline's: refuse, or flag.
EXTRAPOLATION_CHOICES = ("refuse", "flag")
#: Largest share of reporting days outside the baseline's conditions before the model is extrapolating.
DEFAULT_MAX_OUTSIDE_SHARE = 0.10
