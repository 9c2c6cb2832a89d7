"""How a sub-system, unit or energy-type tag is named in the history store and in exports (no pydantic here:
the command line's parser and the history export read it at every start). :mod:`agent.config.audit` holds the
tags' config."""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["TAG_KINDS", "parse_tag_column", "parse_tag_term", "tag_column", "tag_term"]

#: tag kinds, in report order: (kind, stored term prefix, export column prefix)
TAG_KINDS: tuple[str, ...] = ("subsystem", "unit", "energy_type")


_TERM = re.compile(r"^(subsystem|unit|energy_type):([A-Za-z0-9][A-Za-z0-9_.-]{0,62}):energy_j$")
_COLUMN = re.compile(r"^(subsystem|unit|energy_type)_([A-Za-z0-9][A-Za-z0-9_.-]{0,62})_(energy_kwh|coverage)$")


def tag_term(kind: str, name: str) -> str:
    """The stored term of a tag's energy [J] (``site_term_interval.term``): ``subsystem:chillers:energy_j``."""
    return f"{kind}:{name}:energy_j"


def parse_tag_term(term: str) -> tuple[str, str] | None:
    """(kind, name) of a stored tag term, None for another term."""
    match = _TERM.match(term)
    return None if match is None else (match.group(1), match.group(2))


def tag_column(kind: str, name: str, what: Literal["energy_kwh", "coverage"]) -> str:
    """The export column of a tag: ``subsystem_chillers_energy_kwh`` or ``subsystem_chillers_coverage``."""
    return f"{kind}_{name}_{what}"


def parse_tag_column(column: str) -> tuple[str, str, str] | None:
    """(kind, name, energy_kwh|coverage) of a tag export column, None for another column."""
    match = _COLUMN.match(column)
    return None if match is None else (match.group(1), match.group(2), match.group(3))
