"""Reading ``.snmprec`` recordings without a network, and naming which OID each reading came from.

Shared by the static and the end-to-end profile tests. Format: one ``OID|TAG|VALUE`` per line
(snmpsim / LibreNMS fixtures); tags 2 Integer32, 4 OCTET STRING (``4x`` = hex), 5 NULL, 6 OID,
64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 70 Counter64.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable
from functools import lru_cache
from pathlib import Path

from agent.devices.profiles import Profile
from agent.devices.readings import Reading
from agent.devices.snmp.draft.walk import SNMPREC_KIND_BY_TAG
from agent.devices.snmp.seam import SnmpValue

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEVICES = FIXTURES / "devices"


def parse_snmprec(path: Path) -> dict[str, SnmpValue]:
    """OID -> value for every line of a recording (raises ValueError on an unknown tag)."""
    values: dict[str, SnmpValue] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        oid, tag, raw = line.split("|", 2)
        oid = oid.lstrip(".")
        kind = SNMPREC_KIND_BY_TAG.get(tag)
        if kind is None:
            raise ValueError(f"{path.name}:{number}: unknown tag {tag!r}")
        value: int | bytes | str | None
        if tag == "4x":
            value = bytes.fromhex(raw)
        elif kind == "octets":
            value = raw.encode("utf-8")
        elif kind in ("oid", "ipaddress"):
            value = raw
        elif kind == "null":
            value = None
        else:
            value = int(raw)
        values[oid] = SnmpValue(oid, kind, value)  # type: ignore[arg-type]
    return values


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))


def as_fake_data(values: dict[str, SnmpValue]) -> dict[str, tuple[str, int | bytes | str]]:
    """The recording in :class:`agent.devices.snmp.seam.FakeSnmpClient`'s form."""
    return {oid: (v.kind, v.value if v.value is not None else b"") for oid, v in values.items()}


def split_for_profile(
    profile: Profile, values: dict[str, SnmpValue]
) -> tuple[dict[str, SnmpValue], dict[str, list[SnmpValue]]]:
    """What ``read_device`` would have fetched: GET results for scalars, walked rows per column."""
    scalars = {oid: values.get(oid, SnmpValue(oid, "no_such_instance", None)) for oid in profile.scalar_oids}
    ordered, keys = _ordered(frozenset(values))
    columns = {col: [values[o] for o in ordered[slice(*_rows_of(keys, col))]] for col in profile.columns}
    return scalars, columns


@lru_cache(maxsize=8)
def _ordered(oids: frozenset[str]) -> tuple[list[str], list[tuple[int, ...]]]:
    """The recording's OIDs in numeric order, and their keys (sorted once per recording, not per profile:
    a 9,000-line walk checked against every profile spent most of its time re-sorting)."""
    ordered = sorted(oids, key=_oid_key)
    return ordered, [_oid_key(oid) for oid in ordered]


def _rows_of(keys: list[tuple[int, ...]], column: str) -> tuple[int, int]:
    """The index range of the OIDs under ``column`` (``column.*``, not ``column`` itself) in sorted ``keys``.

    In numeric order every OID that extends ``column`` lies after ``column`` and before the column's
    next sibling (last arc + 1), and nothing else does."""
    prefix = _oid_key(column)
    start = bisect_left(keys, prefix)
    if start < len(keys) and keys[start] == prefix:
        start += 1
    return start, bisect_left(keys, (*prefix[:-1], prefix[-1] + 1))


def _answered_rows(profile: Profile, column: str, recorded: Collection[str]) -> bool:
    """Whether the recording holds a row of ``column`` that the profile's objects on it read."""
    readers = [obj for obj in profile.objects if obj.column == column]
    return any(
        oid.startswith(column + ".")
        and any(
            obj.match_index(tuple(int(p) for p in oid[len(column) + 1 :].split("."))) is not None for obj in readers
        )
        for oid in recorded
    )


def source_oid(profile: Profile, reading: Reading, recorded: Collection[str] | None = None) -> str:
    """The instance OID a reading was decoded from (the profile object whose labels fit it).

    ``recorded`` (the recording's OIDs) tells apart objects that differ only by model (Gude 7213/7214
    tables under two product OIDs): the one the device answered is the source.
    """
    found: list[str] = []
    fallbacks: dict[str, str] = {}
    preferred_columns: dict[str, str] = {}
    labels = reading.label_dict
    for obj in profile.objects:
        if obj.quantity != reading.quantity:
            continue
        if any(labels.get(k) != v for k, v in obj.labels.items()):
            continue
        index_labels = {p.label for p in obj.index if p.label is not None}
        if set(labels) != set(obj.labels) | index_labels:
            continue
        oid = obj.instance_oid(labels)
        if oid not in found:  # one column read twice, once per unit (row_filter), is one source
            found.append(oid)
        if obj.instead_of is not None:
            fallbacks[oid] = obj.instead_of
        if obj.instead_of_column is not None:
            preferred_columns[oid] = obj.instead_of_column
    if len(found) > 1 and recorded is not None:
        found = [oid for oid in found if oid in recorded]
        # an 'instead_of' fallback is not the source when its preferred object answered
        found = [oid for oid in found if fallbacks.get(oid) not in recorded] if len(found) > 1 else found
        # an 'instead_of_column' fallback is not the source when its preferred column has rows
        found = (
            [
                oid
                for oid in found
                if oid not in preferred_columns or not _answered_rows(profile, preferred_columns[oid], recorded)
            ]
            if len(found) > 1
            else found
        )
    if len(found) != 1:
        raise AssertionError(f"{profile.name}: {reading} maps to {len(found)} objects: {found}")
    return found[0]


def readings_by_oid(
    profile: Profile, readings: Iterable[Reading], recorded: Collection[str] | None = None
) -> dict[str, Reading]:
    out: dict[str, Reading] = {}
    for reading in readings:
        oid = source_oid(profile, reading, recorded)
        assert oid not in out, f"{profile.name}: two readings from {oid}"
        out[oid] = reading
    return out
