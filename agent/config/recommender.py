"""Cooling recommendations, guarded setpoint writes, retraining, realised savings and exploration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from agent.config.base import StrictModel
from agent.config.levers import LeverConfig


class ExplorationConfig(StrictModel):
    """Learning on a site that never varied a setpoint: small, bounded, reversible steps (models/exploration.py).

    Each step changes one setpoint, goes through the same guarded write (and, in ``approve`` mode, the same
    approval) as a recommendation, and is reverted on an inlet breach like any write. Exploration stops when the
    model's data support covers ``target_support_fraction`` of the planned lattice and its hold-out errors are
    below the targets; then the recommender takes over. See docs/recommender.md, "Exploration".
    """

    enabled: bool = Field(default=False, description="explore around the current setpoints until the model has support")
    mode: Literal["approve", "auto"] = Field(
        default="approve",
        description="approve: each step waits for an operator (like a recommendation); auto: written at once",
    )
    step_k: float = Field(
        default=1.0, gt=0, le=3.0, description="spacing of the explored lattice [K], rounded up to the writable step"
    )
    max_move_k: float = Field(default=2.0, gt=0, le=5.0, description="largest change of one setpoint in one step [K]")
    hold_h: float = Field(default=2.0, ge=0.25, le=24.0, description="time each new lattice point is held [h]")
    settle_h: float = Field(default=0.25, ge=0, le=6.0, description="time a point on the way is held [h]")
    inlet_margin_k: float = Field(
        default=1.0, ge=0, le=10.0, description="hottest inlet + predicted rise stays this far below inlet_limit_c [K]"
    )
    coil_approach_k: float = Field(
        default=5.0,
        ge=0,
        le=15.0,
        description="chilled water stays at most supply air minus this (the CRAH coil approach) [K]",
    )
    explore_economizer: bool = Field(default=True, description="explore the other economizer state as well")
    explore_colder_k: float = Field(
        default=1.0,
        ge=0,
        le=10.0,
        description="how far below the current setpoints to explore [K] (colder never saves)",
    )
    avoid_peak_h: float = Field(
        default=6.0, ge=0, le=23.0, description="no step in this many hours around the day's warmest hour [h]"
    )
    safe_hours: tuple[int, ...] | None = Field(
        default=None, description="site-local hours 0-23 when steps may be taken (overrides avoid_peak_h)"
    )
    target_support_fraction: float = Field(
        default=0.9, gt=0, le=1, description="share of the lattice the model's support must cover to stop"
    )
    max_inlet_mae_c: float = Field(default=0.3, gt=0, description="hold-out inlet error below which to stop [K]")
    max_facility_mape_percent: float = Field(
        default=1.5, gt=0, description="hold-out facility power error below which to stop [%]"
    )
    seed: int = Field(default=0, ge=0, description="seed of the order within each ring (deterministic plans)")

    @field_validator("safe_hours")
    @classmethod
    def _hours(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and (not value or not all(0 <= h <= 23 for h in value)):
            raise ValueError("safe_hours: a non-empty list of hours 0-23")
        return value


class RecommenderConfig(StrictModel):
    """Cooling recommendations and (optionally) guarded setpoint writes.

    ``advise`` (default) only recommends; ``approve`` waits for an operator to approve each
    recommendation (CLI or API), ``auto`` applies within the guardrails. Writes go only through
    profiles' declared writable setpoints with the devices' ``write_credentials``.
    """

    mode: Literal["off", "advise", "approve", "auto"] = Field(
        default="advise", description="off, advise (recommend only), approve (write after approval), auto"
    )
    model_dir: Path | None = Field(default=None, description="a model saved by `pue-agent model fit`")
    inlet_limit_c: float = Field(default=27.0, ge=15.0, le=35.0, description="ASHRAE recommended maximum")
    max_step_c: float = Field(default=1.0, gt=0, le=5.0, description="largest setpoint change in one step [C]")
    max_change_per_h_c: float = Field(
        default=3.0, gt=0, le=20.0, description="largest total setpoint change within an hour [C]"
    )
    economizer_min_dwell_s: float = Field(
        default=1200.0, ge=0, description="least time between economizer switches [s]"
    )
    min_confidence: float = Field(
        default=0.6, ge=0, le=1, description="least probability that the saving is real for a change"
    )
    min_savings_w: float = Field(default=0.0, ge=0, description="least predicted saving for a change [W]")
    min_savings_fraction: float = Field(
        default=0.004,
        ge=0,
        lt=1,
        description="least predicted saving for a change as a fraction of facility power (the larger of the two "
        "applies); smaller moves mostly chase noise and come back",
    )
    settle_intervals: int = Field(
        default=3, ge=1, le=100, description="healthy site ticks after which written setpoints become known-good"
    )
    revert_after_bad_ticks: int = Field(
        default=1,
        ge=1,
        le=10,
        description="site ticks in a row with stale or incomplete data before written setpoints are reverted "
        "(1: at once; raise it on a lossy network so one lost poll does not undo the last change); "
        "a rack inlet above the limit always reverts at once",
    )
    pending_expiry_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="approve mode: a pending recommendation not approved this long after its offer expires "
        "(default: 4 site intervals, poll_interval_s)",
    )
    action_log: Path = Field(
        default=Path("pue-actions.jsonl"), description="JSON-lines audit log of recommendations, writes, reverts"
    )
    retrain_interval_h: float = Field(default=24.0, gt=0, description="retrain from the history store this often")
    retrain_window_days: float = Field(default=28.0, gt=0, description="history used by each retraining")
    exploration: ExplorationConfig = Field(
        default_factory=ExplorationConfig, description="exploration for a site whose history never varied a setpoint"
    )
    levers: list[LeverConfig] = Field(default_factory=list, description="optional plant levers (config/levers.py)")

    @model_validator(mode="after")
    def _exploration_writes(self) -> RecommenderConfig:
        if self.exploration.enabled and self.mode not in ("approve", "auto"):
            raise ValueError(
                f"exploration.enabled needs recommender.mode approve or auto (it writes setpoints), not {self.mode!r}"
            )
        return self

    retrain_holdout_days: float = Field(
        default=2.0,
        gt=0,
        description="most recent history held out of each retraining: the retrained model replaces the current "
        "one only if it predicts these rows (those the current model never saw) at least as well [d]",
    )
    retrain_swap_inlet_tolerance_c: float = Field(
        default=0.05,
        ge=0,
        le=2.0,
        description="how much worse a retrained model's hottest-inlet hold-out MAE may be and still swap in [K]",
    )
    retrain_model_dir: Path | None = Field(
        default=None,
        description="where a swapped-in retrained model is saved with swaps.jsonl, the log of every "
        "champion/challenger decision, and loaded from at start once it holds one (default: model_dir)",
    )
    realised_settle_s: float = Field(
        default=900.0,
        ge=0,
        allow_inf_nan=False,
        description="after an applied change, wait this long before measuring what it saved [s]",
    )
    realised_window_s: float = Field(
        default=3600.0,
        gt=0,
        allow_inf_nan=False,
        description="measure an applied change's realised saving over this long after it settled, against the "
        "same time before it [s]",
    )
    realised_log: Path | None = Field(
        default=None,
        description="JSON lines of every applied change's realised and predicted saving; read back at start "
        "(day and month sums survive a restart) (default: beside action_log, NAME.realised.jsonl)",
    )
    poor_realisations_to_pause: int = Field(
        default=3,
        ge=0,
        le=100,
        description="applied changes in a row realising less than predicted by more than twice their uncertainty "
        "before the controller pauses (0: never)",
    )
    poor_realisation_pause_h: float = Field(
        default=24.0,
        gt=0,
        allow_inf_nan=False,
        description="how long that pause lasts, unless a retrained model is swapped in first [h]",
    )

    @model_validator(mode="after")
    def _holdout_inside_window(self) -> RecommenderConfig:
        if self.retrain_holdout_days >= self.retrain_window_days:
            raise ValueError(
                f"retrain_holdout_days ({self.retrain_holdout_days:g}) must be shorter than retrain_window_days "
                f"({self.retrain_window_days:g}): the retrained model is fitted on the rows before the hold-out"
            )
        return self
