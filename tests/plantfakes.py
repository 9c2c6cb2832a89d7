"""Analytic plant models (fakes of the model seam) for end-to-end tests of the real recommender and controller."""

from __future__ import annotations

import numpy as np

from models.cooling import PlantPrediction
from models.optimiser import SetpointSupport


class EconomizerOnlyPlant:
    """The demo's situation as an analytic model: trained with the economizer on only (its data support has
    no economizer-off cell); the economizer saves 6 % of IT power, each kelvin of warmer water 1 %, warmer
    supply air a little fan power; the hottest inlet is the effective supply air + 5.5 K."""

    version = "analytic-economizer-only"

    def __init__(self) -> None:
        grid = np.array([(s, c) for s in np.arange(16, 22, 0.5) for c in np.arange(5, 13, 0.5)])
        self.support = SetpointSupport.from_samples(grid[:, 0], grid[:, 1], np.ones(len(grid), dtype=bool))

    def conditions_outside_training(self, conditions: object) -> str | None:
        return None

    def predict(self, inputs: object, facility_uncertainty: bool = True) -> PlantPrediction:
        it, _dry, _wet, supply, chw, eco = np.asarray(inputs, dtype=float).T
        effective = np.maximum(supply, chw + 5.0)
        cooling = 0.3 * it - 0.06 * it * eco - 0.01 * it * (chw - 7.0) - 50.0 * (effective - 18.0)
        facility = 1.05 * it + cooling
        n = len(it)
        return PlantPrediction(cooling, facility, np.full(n, 500.0), effective + 5.5, np.full(n, 0.1), facility / it)
