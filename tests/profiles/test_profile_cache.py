"""Profiles read on demand and from the parsed-YAML cache: same profiles, fewer files read, never stale.

The cache and the lazy registry exist for start-up time (``bench/cli.py``); these tests hold them to
giving exactly what reading every file afresh gives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.config.strict_yaml import ParsedYamlCache, read_yaml
from agent.devices.profiles import DEFAULT_PROFILE_DIR, load_profile, load_profiles
from agent.devices.profiles import loading as profiles_module
from agent.errors import ProfileError


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PUE_AGENT_CACHE", raising=False)
    return tmp_path / "cache"


def test_cached_documents_equal_fresh_parses_for_every_shipped_profile(tmp_path: Path) -> None:
    cache_file = tmp_path / "c.marshal"
    writer = ParsedYamlCache(cache_file)
    paths = sorted(DEFAULT_PROFILE_DIR.glob("*.yaml"))
    fresh = {p: read_yaml(p, writer) for p in paths}
    writer.save()
    reader = ParsedYamlCache(cache_file)
    for path in paths:
        hit, document = reader.get(reader.key(path.read_bytes()))
        assert hit, path
        assert document == fresh[path], path
    # and the validated profiles are equal too
    registry = load_profiles()
    for path in paths[:10]:
        assert load_profile(path, cache=reader) == registry[path.stem]


def test_an_edited_profile_is_read_again(tmp_path: Path, cache_home: Path) -> None:
    src = sorted(DEFAULT_PROFILE_DIR.glob("*.yaml"))[0]
    mine = tmp_path / "mine"
    mine.mkdir()
    target = mine / src.name
    shutil.copy(src, target)
    first = load_profiles([mine])[src.stem]
    assert list((cache_home / "pue-agent").glob("profiles-*.marshal")), "the first read fills the cache"
    text = target.read_text(encoding="utf-8")
    target.write_text(text + "\n# a comment changes the bytes, not the profile\n", encoding="utf-8")
    assert load_profiles([mine])[src.stem] == first
    target.write_text(text.replace(f"name: {src.stem}", "name: some-other-name", 1), encoding="utf-8")
    with pytest.raises(ProfileError, match="must equal the file name"):  # a stale cache would load it fine
        load_profiles([mine])


def test_a_corrupt_or_unwritable_cache_is_ignored(tmp_path: Path, cache_home: Path) -> None:
    cache_dir = cache_home / "pue-agent"
    cache_dir.mkdir(parents=True)
    for f in [cache_dir / n for n in ("profiles-py311.marshal", "profiles-py312.marshal", "profiles-py313.marshal")]:
        f.write_bytes(b"\x00not marshal at all")
    names = load_profiles().names()
    assert len(names) > 50
    unwritable = tmp_path / "file-not-dir"
    unwritable.write_text("x")
    cache = ParsedYamlCache(unwritable / "sub" / "c.marshal")
    read_yaml(sorted(DEFAULT_PROFILE_DIR.glob("*.yaml"))[0], cache)
    cache.save()  # must not raise


def test_a_document_with_dates_is_parsed_but_not_cached(tmp_path: Path) -> None:
    doc = tmp_path / "d.yaml"
    doc.write_text("when: 2026-12-03\n", encoding="utf-8")
    cache = ParsedYamlCache(tmp_path / "c.marshal")
    first = read_yaml(doc, cache)
    assert str(first["when"]) == "2026-12-03"
    assert cache.get(cache.key(doc.read_bytes())) == (False, None)


def test_shipped_profiles_load_on_demand_and_detection_reads_them_all(
    monkeypatch: pytest.MonkeyPatch, cache_home: Path
) -> None:
    read: list[str] = []
    real = profiles_module.load_profile

    def counting(path: Path, _chain: tuple[str, ...] = (), cache: ParsedYamlCache | None = None):  # type: ignore[no-untyped-def]
        read.append(path.stem)
        return real(path, _chain, cache)

    monkeypatch.setattr(profiles_module, "load_profile", counting)
    registry = load_profiles(lazy_shipped=True)
    assert read == []
    shipped = sorted(p.stem for p in DEFAULT_PROFILE_DIR.glob("*.yaml"))
    assert registry.names() == shipped
    name = shipped[0]
    assert name in registry and "no-such-profile" not in registry
    assert registry[name].name == name
    assert read == [name]
    with pytest.raises(ProfileError, match="unknown profile 'no-such-profile'"):
        registry["no-such-profile"]
    assert registry.fallbacks()  # reads every remaining profile
    assert sorted(set(read)) == shipped


def test_an_operators_own_directory_is_still_checked_at_once(tmp_path: Path, cache_home: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "broken.yaml").write_text("name: broken\nobjects: 3\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"broken\.yaml"):
        load_profiles([DEFAULT_PROFILE_DIR, mine], lazy_shipped=True)


def test_a_name_given_twice_is_refused_lazy_or_not(tmp_path: Path, cache_home: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    shipped = sorted(DEFAULT_PROFILE_DIR.glob("*.yaml"))[0]
    shutil.copy(shipped, mine / shipped.name)
    for lazy in (False, True):
        with pytest.raises(ProfileError, match=f"two profiles named '{shipped.stem}'"):
            load_profiles([DEFAULT_PROFILE_DIR, mine], lazy_shipped=lazy)
