"""The online recommender a site's config asks for: the model, the configured rules and the site's levers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model stack (scikit-learn) loads only when a recommender is built
    from agent.config.site import RecommenderConfig
    from agent.control.engine import Recommender
    from models.cooling import CoolingModel

__all__ = ["recommender_for"]


def recommender_for(model: CoolingModel, rcfg: RecommenderConfig) -> Recommender:
    """The online :class:`~agent.control.engine.Recommender` for ``model`` with the configured rules, and the levers
    the model learned with the site's bounds for them (a lever the model lacks is not chosen).

    Raises
    ------
    ConfigError
        the model learned a lever the site does not list (``recommender.levers``).
    """
    from agent.config.levers import lever_specs
    from agent.control.engine import Recommender

    configured = {spec.name: spec for spec in lever_specs(rcfg.levers)}
    learned = tuple(getattr(model, "lever_columns", ()))
    unlisted = [name for name in learned if name not in configured]
    if unlisted:
        from agent.errors import ConfigError

        raise ConfigError(
            [
                f"recommender.levers: the model {getattr(model, 'version', '')} was fitted with the levers {unlisted}, "
                "which the site does not list: list them with their bounds (docs/levers.md), or refit the model "
                "without those history columns"
            ]
        )
    levers = tuple(configured[name] for name in learned)
    return Recommender(
        model,
        inlet_limit_c=rcfg.inlet_limit_c,
        max_step_c=rcfg.max_step_c,
        max_change_per_h_c=rcfg.max_change_per_h_c,
        economizer_min_dwell_s=rcfg.economizer_min_dwell_s,
        min_confidence=rcfg.min_confidence,
        min_savings_w=rcfg.min_savings_w,
        min_savings_fraction=rcfg.min_savings_fraction,
        levers=levers,
    )
