"""Features of the cooling model: measured plant inputs plus physics-derived quantities.

The model sees one row per interval of the canonical site history. Its inputs are the columns in
:data:`INPUT_COLUMNS` (what a site can measure or set); :func:`build_features` adds quantities the
plant physics says matter, so a small model learns them from little data:

* free-cooling margin = chilled-water setpoint - (wet-bulb + tower approach + heat-exchanger
  approach): positive when the water-side economizer can carry the whole load;
* chiller lift proxy = (wet-bulb + tower approach) - chilled-water setpoint;
* load fraction = IT power / IT capacity;
* coil headroom = supply-air setpoint - chilled-water setpoint (the coil cannot make air colder
  than the entering water plus its approach);
* on a site with levers (:mod:`models.levers`), after the lever columns: the condenser-water approach to
  the wet-bulb and the load per chiller and per tower running (:func:`lever_feature_names`).

Pure: numpy only, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CONDITION_COLUMNS",
    "FEATURE_NAMES",
    "INPUT_COLUMNS",
    "LEVER_MONOTONIC_CST",
    "MONOTONIC_CST",
    "SETPOINT_COLUMNS",
    "FeatureConfig",
    "build_features",
    "lever_feature_names",
]

#: Exogenous conditions the model is given (not controllable).
CONDITION_COLUMNS: tuple[str, ...] = ("it_power_w", "outdoor_dry_bulb_c", "outdoor_wet_bulb_c")
#: Controllable setpoints the optimiser chooses.
SETPOINT_COLUMNS: tuple[str, ...] = ("supply_air_setpoint_c", "chw_supply_setpoint_c", "economizer_enabled")
#: Column order of the model's raw input matrix.
INPUT_COLUMNS: tuple[str, ...] = CONDITION_COLUMNS + SETPOINT_COLUMNS

#: Column order of :func:`build_features` output.
FEATURE_NAMES: tuple[str, ...] = (
    *INPUT_COLUMNS,
    "load_fraction",
    "free_cooling_margin_k",
    "economizer_free_cooling_margin_k",
    "chiller_lift_proxy_k",
    "coil_headroom_k",
)

#: Sign physics gives the cooling power and the hottest inlet in a feature, holding the others fixed (+1 never
#: lower when the feature rises, 0 free), for HistGradientBoosting's ``monotonic_cst``: more IT load never lowers
#: them, warmer (dry-bulb) or more humid (wet-bulb) outdoor air never makes cooling easier. The derived
#: free-cooling margin and chiller lift have a sign too (-1, +1) but are left free: constraining them tripled the
#: hold-out PUE error on a Guiyang exploration year of the twin (0.0016 -> 0.0049; these four cost 0.0016 ->
#: 0.0021), and wet-bulb reaches the prediction through them, so the model is not monotone in the raw wet-bulb
#: inside the training range. Beyond it :class:`models.cooling.CoolingModel` evaluates conditions clamped to the
#: training range, which physics makes conservative in the safe direction.
MONOTONIC_CST: dict[str, int] = {
    "it_power_w": 1,
    "outdoor_dry_bulb_c": 1,
    "outdoor_wet_bulb_c": 1,
    "supply_air_setpoint_c": 0,
    "chw_supply_setpoint_c": 0,
    "economizer_enabled": 0,
    "load_fraction": 1,
    "free_cooling_margin_k": 0,
    "economizer_free_cooling_margin_k": 0,
    "chiller_lift_proxy_k": 0,
    "coil_headroom_k": 0,
}

#: Sign physics gives the cooling power in a lever (with the derived lever features, ``lever_features``): the pumps'
#: head is the larger of the differential-pressure setpoint and what the remote coil needs, so raising the setpoint
#: never lowers pump power and nothing else in cooling power depends on it (the affinity laws). Unconstrained, the
#: trees' noise drifted the closed-loop agent's DP setpoint above the floor (Chengdu, modern-vs: 1.1 MWh a year).
LEVER_MONOTONIC_CST: dict[str, int] = {"chw_pump_dp_setpoint_pa": 1}


@dataclass(frozen=True)
class FeatureConfig:
    """Plant constants used by the physics-derived features.

    Parameters
    ----------
    it_capacity_w : float
        IT capacity used for the load fraction [W] (the fit uses the history's largest IT power).
    tower_approach_k : float
        Cooling-tower approach, leaving water minus wet-bulb [K] (typical 2.8-6.7 K).
    hx_approach_k : float
        Economizer plate heat-exchanger approach [K] (typical 1.7-2.8 K).

    References
    ----------
    ASHRAE Handbook - HVAC Systems and Equipment (2020), chapter 40 "Cooling Towers" (approach);
    Modelica Buildings library, ``Buildings.Applications.DataCenters`` (water-side economizer).
    """

    it_capacity_w: float
    tower_approach_k: float = 4.0
    hx_approach_k: float = 2.0
    #: optional lever columns (:mod:`models.levers`) after :data:`INPUT_COLUMNS`, passed through as features
    lever_columns: tuple[str, ...] = ()
    #: also the physics-derived lever features (:func:`lever_feature_names`); False in models fitted before them
    lever_features: bool = False

    def __post_init__(self) -> None:
        if not self.it_capacity_w > 0:
            raise ValueError(f"it_capacity_w must be > 0, got {self.it_capacity_w}")
        if self.tower_approach_k < 0 or self.hx_approach_k < 0:
            raise ValueError("approaches must be >= 0")


def build_features(inputs: ArrayLike, config: FeatureConfig, *, column_major: bool = False) -> NDArray[np.float64]:
    """Model features from raw inputs.

    Parameters
    ----------
    inputs : array_like, shape (n_rows, 6 + len(config.lever_columns))
        Columns in :data:`INPUT_COLUMNS` order: IT power [W], outdoor dry-bulb [C], outdoor
        wet-bulb [C], supply-air setpoint [C], chilled-water supply setpoint [C], economizer
        enabled [0/1]; then the site's lever columns, appended as the last features.
    config : FeatureConfig
        Plant constants.
    column_major : bool
        Return the same values with each feature's column contiguous (a transposed view of a (n_features, n_rows)
        array): the batch optimiser reads the features a column at a time.

    Returns
    -------
    numpy.ndarray, shape (n_rows, len(FEATURE_NAMES) + len(config.lever_columns) + n_derived)
        Columns in :data:`FEATURE_NAMES` order, then the lever columns, then (``config.lever_features``)
        :func:`lever_feature_names` of them.

    References
    ----------
    standards.md, "Plant physics": full free cooling when wet-bulb + tower approach + HX approach
    <= chilled-water supply setpoint.
    """
    raw = np.asarray(inputs, dtype=float)
    n_columns = len(INPUT_COLUMNS) + len(config.lever_columns)
    if raw.ndim != 2 or raw.shape[1] != n_columns:
        raise ValueError(f"inputs must have shape (n, {n_columns}), got {raw.shape}")
    columns = np.ascontiguousarray(raw.T) if column_major else raw.T
    base = columns[: len(INPUT_COLUMNS)]
    it_power_w, _dry_bulb_c, wet_bulb_c, supply_c, chw_c, economizer = base
    tower_leaving_c = wet_bulb_c + config.tower_approach_k
    free_cooling_margin_k = chw_c - tower_leaving_c - config.hx_approach_k
    levers = columns[len(INPUT_COLUMNS) :]
    load_fraction = it_power_w / config.it_capacity_w
    derived = []
    if config.lever_features:
        lever = dict(zip(config.lever_columns, levers, strict=True))
        formulas = {
            "condenser_approach_k": lambda: lever["condenser_water_setpoint_c"] - wet_bulb_c,
            "load_per_chiller": lambda: load_fraction / np.maximum(lever["chillers_running"], 1.0),
            "load_per_tower": lambda: load_fraction / np.maximum(lever["towers_running"], 1.0),
        }
        derived = [formulas[name]() for name in lever_feature_names(config.lever_columns)]
    parts = (
        *base,
        load_fraction,
        free_cooling_margin_k,
        economizer * free_cooling_margin_k,
        tower_leaving_c - chw_c,
        supply_c - chw_c,
        *levers,
        *derived,
    )
    return np.stack(parts).T if column_major else np.column_stack(parts)


def lever_feature_names(lever_columns: tuple[str, ...]) -> tuple[str, ...]:
    """Physics-derived features of a site's levers, after the lever columns (:attr:`FeatureConfig.lever_features`).

    The plant's response to a lever depends on it relative to the conditions: the condenser-water setpoint
    against the wet-bulb (its approach: near wet-bulb plus the towers' least approach the fans run flat out
    and the water floats, above it the chillers' lift rises), the chiller and tower counts against the load
    they share (load fraction per unit running: part-load ratio, fan speed). Trees split on one feature at a
    time, so these differences and ratios give in one split what the raw columns need a staircase of splits
    across wet-bulb or load for. On the closed-loop bench's Chengdu exploration year (modern-vs), optimising
    with them cut the open-loop loss against the oracle from 3.2-3.8 to 2.0-2.5 kW an hour (lever part
    1.9-2.0 to 0.7-0.8 kW; 381 sampled hours, two samples); the chilled-water lift (condenser water minus
    chilled water) as a fourth made it worse (2.6-3.0 kW) and is left out.
    """
    names: list[str] = []
    if "condenser_water_setpoint_c" in lever_columns:
        names.append("condenser_approach_k")
    if "chillers_running" in lever_columns:
        names.append("load_per_chiller")
    if "towers_running" in lever_columns:
        names.append("load_per_tower")
    return tuple(names)
