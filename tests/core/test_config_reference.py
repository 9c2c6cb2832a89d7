"""docs/config.md is what agent.config.reference writes from the models, every config field has a description,
and configs/example-site.yaml shows every section and key and passes `pue-agent check-config`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from agent.config.reference import DOC_PATH, models_in_order, render, undocumented_fields
from agent.config.site import (
    CarbonConfig,
    DieselEntry,
    ExporterConfig,
    GreenElectricity,
    HistoryConfig,
    Listen,
    RecommenderConfig,
    Site,
    SiteConfig,
)
from agent.config.tariff import TariffConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "example-site.yaml"
PUE_AGENT = Path(sys.executable).with_name("pue-agent")

#: every field is described in its model (CarbonConfig's landed with the carbon branch)
DESCRIBED_ELSEWHERE: set[str] = set()


def test_docs_config_md_is_generated_from_the_models() -> None:
    assert DOC_PATH == ROOT / "docs" / "config.md"
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "docs/config.md is stale: python -m agent.config.reference"


def test_every_config_field_has_a_description() -> None:
    assert sorted(set(undocumented_fields()) - DESCRIBED_ELSEWHERE) == []


def test_the_reference_lists_every_key_of_every_model() -> None:
    text = render()
    models = models_in_order()
    assert {SiteConfig, Site, TariffConfig, RecommenderConfig} <= set(models)
    for model in models:
        section = text[text.index(f'<a id="{model.__name__.lower()}"></a>') :]
        section = section[: section.find("<a id=", 1)] if "<a id=" in section[1:] else section
        for name in model.model_fields:
            assert f"| `{name}` |" in section, f"{model.__name__}.{name} missing from its section"


def _missing_keys(data: dict[str, Any], model: type[BaseModel], where: str) -> list[str]:
    return [f"{where}{name}" for name in model.model_fields if name not in data]


def test_the_example_config_shows_every_section_and_key() -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    missing = _missing_keys(data, SiteConfig, "")
    for key, model in (
        ("site", Site),
        ("listen", Listen),
        ("exporter", ExporterConfig),
        ("history", HistoryConfig),
        ("recommender", RecommenderConfig),
        ("tariff", TariffConfig),
        ("carbon", CarbonConfig),
    ):
        missing += _missing_keys(data[key], model, f"{key}.")
    missing += _missing_keys(data["carbon"]["green_electricity"][0], GreenElectricity, "carbon.green_electricity[].")
    missing += _missing_keys(data["carbon"]["diesel"][0], DieselEntry, "carbon.diesel[].")
    missing += _missing_keys(data["topology"], SiteConfig.model_fields["topology"].annotation, "topology.")  # type: ignore[arg-type]
    assert "tls_server_config" in EXAMPLE.read_text(encoding="utf-8")  # shown commented out: its files must exist
    assert missing == [], missing


def test_check_config_accepts_the_example() -> None:
    proc = subprocess.run(
        [str(PUE_AGENT), "check-config", str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OK" in proc.stdout
