"""Every recording fixture (tests/fixtures/devices, detect_only and draft) is detected by at most one profile:
never a tie.

``test_recordings.py`` checks that each recording with an expectation file is detected by its profile;
this module checks ALL fixtures (expectation file or not) for ambiguity, i.e. two profiles that both fit
the device at the same detection stage with the same score, where only the alphabetical order of their
names would decide. The stages are those of :func:`agent.devices.snmp.detect.detect_profile`: vendor profiles by
sysObjectID/sysDescr score (their probes answering), then vendor profiles by probe alone, then the
standard-MIB fallbacks by rank.
"""

from __future__ import annotations

import asyncio

import pytest
from recordings import DEVICES, as_fake_data, parse_snmprec
from recordings import FIXTURES as FIXTURE_DIR

from agent.devices.profiles import Profile, ProfileRegistry, load_profiles
from agent.devices.snmp.detect import SYS_DESCR_OID, SYS_OBJECT_ID_OID, detect_profile
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget, SnmpValue, V2cAuth
from agent.errors import ProfileError

#: every recording the tests hold: read fixtures, detection-only ones, and the profile-draft inputs
RECORDINGS = {
    f"{p.parent.name}/{p.stem}": p
    for folder in (DEVICES, FIXTURE_DIR / "detect_only", FIXTURE_DIR / "draft")
    for p in sorted(folder.glob("*.snmprec"))
}
FIXTURES = sorted(RECORDINGS)


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry:
    return load_profiles()


def _text(value: SnmpValue | None) -> str:
    if value is None or value.value is None:
        return ""
    raw = value.value
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip()


def _answers(profile: Profile, values: dict[str, SnmpValue]) -> bool:
    detect = profile.detect
    if detect.requires_oid is not None and detect.requires_oid not in values:
        return False
    return detect.requires_column is None or any(oid.startswith(detect.requires_column + ".") for oid in values)


def fitting_profiles(registry: ProfileRegistry, values: dict[str, SnmpValue]) -> tuple[str, list[str]]:
    """(stage, the best-fitting profile names at the first stage where any fits): more than one is a tie."""
    sys_oid = _text(values.get(SYS_OBJECT_ID_OID)).lstrip(".")
    sys_descr = _text(values.get(SYS_DESCR_OID))
    vendors = [registry[n] for n in registry.names() if registry[n].detect.fallback is None]
    scored = [(p.matches(sys_oid, sys_descr), p) for p in vendors]
    by_score = [(s, p) for s, p in scored if s > 0 and _answers(p, values)]
    if by_score:
        top = max(s for s, _ in by_score)
        return "score", [p.name for s, p in by_score if s == top]
    probed = [p for p in vendors if (p.detect.requires_oid or p.detect.requires_column) and _answers(p, values)]
    if probed:
        return "probe", [p.name for p in probed]
    fallbacks = [p for p in registry.fallbacks() if _answers(p, values)]
    if fallbacks:
        rank = min(p.detect.fallback or 0 for p in fallbacks)
        return "fallback", [p.name for p in fallbacks if p.detect.fallback == rank]
    return "none", []


def test_fallback_ranks_are_distinct(registry: ProfileRegistry) -> None:
    ranks = [p.detect.fallback for p in registry.fallbacks()]
    assert len(ranks) == len(set(ranks)), ranks


@pytest.mark.parametrize("name", FIXTURES)
def test_no_fixture_is_detected_by_two_profiles(name: str, registry: ProfileRegistry) -> None:
    values = parse_snmprec(RECORDINGS[name])
    stage, names = fitting_profiles(registry, values)
    assert len(names) <= 1, f"{name}: ambiguous at the {stage} stage: {names}"
    # and the agent's own detection agrees with this reading of the rules
    client = FakeSnmpClient(as_fake_data(values))  # type: ignore[arg-type]
    community = name.rpartition("/")[2]
    try:
        detected: str | None = asyncio.run(
            detect_profile(client, SnmpTarget("fake", 161, V2cAuth(community)), registry)
        ).name
    except ProfileError:
        detected = None
    assert detected == (names[0] if names else None), (stage, names)


def test_a_tie_is_found() -> None:
    """The check above can fail: two vendor profiles with the same prefix and no probe tie."""

    def vendor(name: str) -> Profile:
        return Profile.model_validate(
            {
                "name": name,
                "description": name,
                "source": "t",
                "kind": "pdu",
                "detect": {"sys_object_id_prefixes": ["1.3.6.1.4.1.99999"]},
                "objects": [{"quantity": "voltage_v", "oid": "1.3.6.1.4.1.99999.1.0", "type": "integer"}],
            }
        )

    values = {SYS_OBJECT_ID_OID: SnmpValue(SYS_OBJECT_ID_OID, "oid", "1.3.6.1.4.1.99999.2")}
    assert fitting_profiles(ProfileRegistry([vendor("a"), vendor("b")]), values) == ("score", ["a", "b"])
