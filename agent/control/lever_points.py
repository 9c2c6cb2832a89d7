"""The site's optional levers (docs/levers.md) at the controller: setpoints as values by writable quantity (levers by
name), the configured bounds a lever write stays within, and the range each device accepts for each setpoint (the
plausibility rule of :func:`agent.site.conditions.site_conditions`).

:class:`~agent.control.engine.Setpoints` carries the levers as a tuple in the recommender's order
(:attr:`~agent.control.engine.Recommender.levers`); the devices are written by quantity, so the controller names them
here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from agent.config.site import SiteConfig
from agent.site.conditions import setpoint_ranges

if TYPE_CHECKING:  # the model stack (scikit-learn) loads only when a recommender is built
    from agent.control.engine import Setpoints

__all__ = [
    "as_tuple",
    "lever_limits",
    "lever_names",
    "levers_in_force",
    "setpoint_ranges",
    "setpoint_values",
    "with_written",
]


def lever_names(recommender: object) -> tuple[str, ...]:
    """The levers ``recommender`` chooses, in its order (none for a recommender without levers)."""
    return tuple(spec.name for spec in getattr(recommender, "levers", ()))


def lever_limits(cfg: SiteConfig) -> dict[str, tuple[float, float]]:
    """The configured bounds of each lever the site lists (``recommender.levers``), by quantity."""
    return {lever.name: (lever.min, lever.max) for lever in (cfg.recommender.levers if cfg.recommender else ())}


def setpoint_values(setpoints: Setpoints, names: tuple[str, ...]) -> dict[str, float]:
    """``setpoints`` by writable quantity (economizer 1 enabled, 0 disabled; levers by ``names``, when they match)."""
    out = {
        "supply_air_setpoint_c": setpoints.supply_air_setpoint_c,
        "chw_supply_setpoint_c": setpoints.chw_supply_setpoint_c,
        "economizer_enabled": 1.0 if setpoints.economizer_enabled else 0.0,
    }
    if len(setpoints.levers) == len(names):
        out.update(zip(names, setpoints.levers, strict=True))
    return out


def with_written(current: Setpoints, target: Setpoints, written: Iterable[str], names: tuple[str, ...]) -> Setpoints:
    """The setpoints in force after the writes of ``written`` quantities of ``target`` over ``current``."""
    from dataclasses import replace

    done = set(written)
    base = {q: getattr(target, q) for q in ("supply_air_setpoint_c", "chw_supply_setpoint_c", "economizer_enabled")}
    levers = current.levers
    if len(target.levers) == len(current.levers) == len(names):
        levers = tuple(t if n in done else c for n, t, c in zip(names, target.levers, current.levers, strict=True))
    return replace(current, **{q: v for q, v in base.items() if q in done}, levers=levers)


def levers_in_force(read: Mapping[str, float], names: tuple[str, ...]) -> tuple[float, ...]:
    """The values of the levers ``names`` as read, in that order; ``()`` when one of them is not known."""
    values = tuple(read[n] for n in names if n in read)
    return values if len(values) == len(names) else ()


def as_tuple(setpoints: Setpoints) -> tuple[float, ...]:
    """(supply air, chilled water, economizer 0/1, levers...) as the realised-savings evaluation keeps them."""
    return (
        setpoints.supply_air_setpoint_c,
        setpoints.chw_supply_setpoint_c,
        1.0 if setpoints.economizer_enabled else 0.0,
        *setpoints.levers,
    )
