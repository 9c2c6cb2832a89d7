"""Reading profiles: one YAML file (with ``extends``), a directory of them, the registry that detects devices."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import ValidationError

from agent.config.strict_yaml import ParsedYamlCache, YamlFileError, read_yaml
from agent.devices.profiles.objects import ProfileObject
from agent.devices.profiles.profile import Profile
from agent.errors import ProfileError

#: the shipped profiles: ``configs/profiles/`` in the source tree, package data in an installed wheel
#: (``agent/data/profiles`` is a link to it in the repository)
DEFAULT_PROFILE_DIR = Path(__file__).resolve().parent.parent.parent / "data" / "profiles"


def _format_validation(path: Path, err: ValidationError) -> list[str]:
    lines = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "<top>"
        lines.append(f"{path}: {loc}: {item['msg']}")
    return lines


def _raw_key(raw: object) -> tuple[str | None, str | None]:
    """The ``(oid, column)`` of an object as written in YAML (before validation)."""
    if not isinstance(raw, dict):
        return None, None
    oid, column = raw.get("oid"), raw.get("column")
    return (
        str(oid).strip().lstrip(".") if oid is not None else None,
        str(column).strip().lstrip(".") if column is not None else None,
    )


def _base_objects(
    path: Path, base_name: str, chain: tuple[str, ...], cache: ParsedYamlCache | None
) -> tuple[ProfileObject, ...]:
    """The objects of the profile ``path`` extends (searched beside it, then among the shipped ones)."""
    if base_name in chain:
        raise ProfileError(f"{path}: 'extends' loops: {' -> '.join((*chain, base_name))}")
    candidates = (path.parent / f"{base_name}.yaml", DEFAULT_PROFILE_DIR / f"{base_name}.yaml")
    base_path = next((c for c in candidates if c.is_file()), None)
    if base_path is None:
        raise ProfileError(f"{path}: extends unknown profile {base_name!r}")
    return load_profile(base_path, chain, cache).objects


def profile_cache() -> ParsedYamlCache:
    """The parsed-profile cache of this user: ``$XDG_CACHE_HOME/pue-agent/profiles.marshal``.

    ``PUE_AGENT_CACHE=off`` reads every file afresh (and writes nothing).
    """
    if os.environ.get("PUE_AGENT_CACHE", "").lower() in {"off", "0", "no"}:
        return ParsedYamlCache(None)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return ParsedYamlCache(Path(base) / "pue-agent" / f"profiles-py{sys.version_info[0]}{sys.version_info[1]}.marshal")


def load_profile(path: Path, _chain: tuple[str, ...] = (), cache: ParsedYamlCache | None = None) -> Profile:
    """Read and validate one profile YAML; raise :class:`ProfileError` naming file, path and reason.

    A profile that ``extends`` another gets the base's objects first, minus those it redefines
    (same ``oid`` or ``column``), then its own; the whole is validated together (an ``instead_of`` may
    name an inherited object).
    """
    try:
        data = read_yaml(path, cache)
    except YamlFileError as err:
        raise ProfileError(str(err)) from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a YAML mapping")
    inherited = 0
    if isinstance(data.get("extends"), str) and isinstance(data.get("objects"), list):
        own = data["objects"]
        keys = {_raw_key(raw) for raw in own}
        base = _base_objects(path, data["extends"], (*_chain, str(data.get("name"))), cache)
        kept = [obj for obj in base if (obj.oid, obj.column) not in keys]
        inherited = len(kept)
        data = {**data, "objects": [*kept, *own]}
    try:
        profile = Profile.model_validate(data)
    except ValidationError as err:
        lines = _format_validation(path, err)
        if inherited:
            lines.append(f"{path}: (objects are numbered after the {inherited} inherited from {data['extends']!r})")
        raise ProfileError("\n".join(lines)) from None
    if profile.name != path.stem:
        raise ProfileError(f"{path}: name {profile.name!r} must equal the file name {path.stem!r}")
    return profile


class ProfileRegistry:
    """All known profiles by name, with detection.

    Profiles given as files (``lazy``: name -> path) are read and validated on first use: a
    command that names its devices' profiles (``check-config``, ``read --profile``) reads only
    those, not every shipped file (about 0.2 s of YAML). Detection and ``fallbacks`` read them all.
    """

    def __init__(
        self, profiles: Iterable[Profile], lazy: Mapping[str, Path] | None = None, cache: ParsedYamlCache | None = None
    ) -> None:
        self._profiles: dict[str, Profile] = {}
        self._lazy: dict[str, Path] = dict(lazy or {})
        self._cache = cache
        for p in profiles:
            if p.name in self._profiles or p.name in self._lazy:
                raise ProfileError(f"two profiles named {p.name!r}")
            self._profiles[p.name] = p

    def __contains__(self, name: object) -> bool:
        return name in self._profiles or name in self._lazy

    def __getitem__(self, name: str) -> Profile:
        if name in self._lazy:
            self._profiles[name] = load_profile(self._lazy[name], cache=self._cache)
            del self._lazy[name]
            if self._cache is not None:
                self._cache.save()
        try:
            return self._profiles[name]
        except KeyError:
            raise ProfileError(f"unknown profile {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted({*self._profiles, *self._lazy})

    def _all(self) -> list[Profile]:
        """Every profile, reading the lazy ones now; their problems are reported together."""
        problems: list[str] = []
        for name in sorted(self._lazy):
            try:
                self._profiles[name] = load_profile(self._lazy[name], cache=self._cache)
                del self._lazy[name]
            except ProfileError as err:
                problems.append(str(err))
        if self._cache is not None:
            self._cache.save()
        if problems:
            raise ProfileError("\n".join(problems))
        return list(self._profiles.values())

    def detect(self, sys_object_id: str, sys_descr: str) -> Profile | None:
        """Best-scoring profile for a device's sysObjectID and sysDescr, or None (fallbacks score last)."""
        scored = [(p.matches(sys_object_id, sys_descr), p.name, p) for p in self._all()]
        scored = [s for s in scored if s[0] > 0]
        if not scored:
            return None
        scored.sort(key=lambda s: (s[2].detect.fallback is not None, -s[0], s[1]))
        return scored[0][2]

    def fallbacks(self) -> list[Profile]:
        """The standard-MIB fallback profiles, in the order detection tries them (rank, then name)."""
        found = [p for p in self._all() if p.detect.fallback is not None]
        return sorted(found, key=lambda p: (p.detect.fallback or 0, p.name))


def load_profiles(dirs: Iterable[Path] = (DEFAULT_PROFILE_DIR,), *, lazy_shipped: bool = False) -> ProfileRegistry:
    """Load every ``*.yaml`` profile in ``dirs``; all problems reported together.

    With ``lazy_shipped`` the shipped directory's files (validated by the project's tests) are read on
    first use instead; an operator's own directories are always read and checked now. A name given
    twice is refused either way (a profile's name is its file name).
    """
    profiles: list[Profile] = []
    lazy: dict[str, Path] = {}
    problems: list[str] = []
    seen: set[str] = set()
    cache = profile_cache()
    for directory in dirs:
        if not directory.is_dir():
            problems.append(f"{directory}: profile directory not found")
            continue
        deferred = lazy_shipped and directory.resolve() == DEFAULT_PROFILE_DIR.resolve()
        for path in sorted(directory.glob("*.yaml")):
            if path.stem in seen:
                problems.append(f"two profiles named {path.stem!r} ({path})")
                continue
            seen.add(path.stem)
            if deferred:
                lazy[path.stem] = path
                continue
            try:
                profiles.append(load_profile(path, cache=cache))
            except ProfileError as err:
                problems.append(str(err))
    cache.save()
    if problems:
        raise ProfileError("\n".join(problems))
    return ProfileRegistry(profiles, lazy, cache)
