"""Grid CO2 emission factors: the dated table shipped in ``agent/data/emission_factors.yaml``.

Used by the config (an unknown ``carbon.emission_factor`` is a config error), the exporter
(``pue_site_emission_factor_kg_per_kwh``) and the reports (CUE, tCO2). Every output names the key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import HistoryQueryError

__all__ = [
    "DEFAULT_EMISSION_FACTOR",
    "EMISSION_FACTORS_FILE",
    "EmissionFactor",
    "known_factors",
    "load_emission_factor",
]

EMISSION_FACTORS_FILE = Path(__file__).resolve().parent.parent / "data" / "emission_factors.yaml"
DEFAULT_EMISSION_FACTOR = "cn-mee-2023-national"


@dataclass(frozen=True)
class EmissionFactor:
    key: str
    kg_co2_per_kwh: float
    year: int
    region: str
    source: str

    def describe(self) -> str:
        return f"{self.key}: {self.kg_co2_per_kwh:.4f} kgCO2/kWh ({self.source})"


@functools.lru_cache(maxsize=4)
def _table(path: Path) -> dict[str, Any]:
    import yaml  # the command line reads DEFAULT_EMISSION_FACTOR at every start; the table only when used

    table: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))["factors"]
    return table


def known_factors(path: Path = EMISSION_FACTORS_FILE) -> list[str]:
    """The keys of the shipped table, sorted."""
    return sorted(_table(path))


def load_emission_factor(key: str, path: Path = EMISSION_FACTORS_FILE) -> EmissionFactor:
    """The dated grid emission factor ``key`` from the shipped table.

    Raises
    ------
    HistoryQueryError
        unknown key (the message lists the known ones).
    """
    table = _table(path)
    if key not in table:
        raise HistoryQueryError(f"unknown emission factor {key!r}; known: {', '.join(sorted(table))}")
    row = table[key]
    return EmissionFactor(key, float(row["kg_co2_per_kwh"]), int(row["year"]), str(row["region"]), str(row["source"]))
