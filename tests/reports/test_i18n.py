"""The report catalogue: every key in both languages, with the same placeholders, and every key the code uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

from agent.config.audit import ENERGY_TYPES, SUBSYSTEMS, TAG_KINDS
from agent.config.boundaries import OPTIONAL_BOUNDARIES
from agent.reports.i18n import CATALOGUE, LANGUAGES, tr

REPORTS = Path(__file__).resolve().parents[2] / "agent" / "reports"


def _fields(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


def test_every_key_exists_in_both_languages_with_the_same_placeholders() -> None:
    assert set(LANGUAGES) == set(CATALOGUE) == {"en", "zh"}
    en, zh = CATALOGUE["en"], CATALOGUE["zh"]
    assert sorted(set(en) ^ set(zh)) == []
    for key in en:
        assert _fields(en[key]) == _fields(zh[key]), key
        assert en[key].strip() and zh[key].strip(), key


def test_english_has_no_chinese_and_chinese_is_chinese() -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert [k for k, v in CATALOGUE["en"].items() if cjk.search(v)] == []
    # every Chinese text but bare symbols and codes is written in Chinese
    untranslated = [
        k
        for k, v in CATALOGUE["zh"].items()
        if not cjk.search(v) and re.search(r"[a-z]{4,}", re.sub(r"\{\w*\}", "", v))
    ]
    assert untranslated == []


def test_every_key_the_reports_use_exists() -> None:
    used: set[str] = set()
    for path in REPORTS.glob("*.py"):
        used |= set(re.findall(r"""tr\(\s*lang,\s*["']([a-z_]+\.[a-z_0-9]+)["']""", path.read_text(encoding="utf-8")))
    assert len(used) > 60  # the scan finds the literal keys (a broken regex would pass vacuously)
    assert sorted(used - set(CATALOGUE["en"])) == []
    # keys built from the tag tables
    for name in SUBSYSTEMS:
        assert f"subsystem.{name}" in CATALOGUE["en"]
    for name in ENERGY_TYPES:
        assert f"energy_type.{name}" in CATALOGUE["en"]
    for kind in TAG_KINDS:
        assert f"kind.{kind}" in CATALOGUE["en"]
    for boundary in ("facility", "it", "cooling", "submeter", "zone", "other", *(b.name for b in OPTIONAL_BOUNDARIES)):
        assert f"boundary.{boundary}" in CATALOGUE["en"]


def test_standard_terms_in_chinese() -> None:
    assert "电能利用效率 pPUE" in tr("zh", "text.ppue_cooling", cooling=1.3)
    assert "电能比 RM2" in tr(
        "zh", "compliance.grade", standard="GB 40879-2021", grade=1, pue=1.2, limit=1.2, coverage=1
    )
    assert tr("zh", "section.register") == "3 能源计量器具一览表"
    assert "碳利用效率 CUE" in tr("zh", "compliance.cue", cue=0.75, route=tr("zh", "compliance.route_location"))
    assert "可再生能源利用率 REF" in tr("zh", "compliance.ref", ref=0.1, renewable=1, green=0, cite="ISO/IEC 30134-3")


def test_wrapping_breaks_chinese_anywhere_and_latin_at_spaces() -> None:
    from agent.reports.render import _wrap

    zh = "计量电量 = 有效时段内电网购入电力(能源品种为 grid_electricity 的总电表);差值 = 计量 - 账单"
    lines = _wrap(zh, 100.0, 10.0)  # ten ems a line
    assert "".join(lines).replace(" ", "") == zh.replace(" ", "") and len(lines) > 3
    assert all(sum(1.0 if ord(c) > 0x2E80 else 0.55 for c in line) <= 10.0 + 1e-9 for line in lines), lines
    en = _wrap("Metered = grid electricity over covered time; difference = metered - billed", 100.0, 10.0)
    assert " ".join(en) == "Metered = grid electricity over covered time; difference = metered - billed"
    assert all(not line.startswith(" ") and not line.endswith(" ") for line in en)
