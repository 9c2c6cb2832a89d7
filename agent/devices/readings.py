"""Immutable readings in canonical SI quantities, and reading a device through its profile.

Poll once, read many: a :class:`DeviceSnapshot` is built by one poll and then only read by the
PUE computation, the exporters, the history store and the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from agent.devices.profiles import Profile, ProfileObject, RowFilter
from agent.devices.snmp.seam import SnmpClient, SnmpTarget, SnmpValue
from agent.errors import DecodeError, ProfileError, SnmpProtocolError

__all__ = [
    "DeviceReadout",
    "DeviceSnapshot",
    "Reading",
    "Unreadable",
    "counter_reading",
    "decode_objects",
    "read_device",
]

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Reading:
    """One canonical value: ``quantity`` (glossary name, unit in the name), SI ``value``, labels.

    Counters also carry their wrap modulus and cap in the same unit, the ceiling of their rate (the
    profile's ceiling of the matching power, per second) and one step of the register, so that the
    collector can make them monotonic, and tell a reset from a glitch, without going back to the profile.
    """

    quantity: str
    value: float
    labels: Labels = ()
    counter_modulus: float | None = None
    counter_cap: float | None = None
    counter_max_rate: float | None = None
    counter_resolution: float = 0.0

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """One object (or table row) a poll could not use: its quantity and labels, and the problem."""

    quantity: str
    labels: Labels
    problem: str


@dataclass(frozen=True, slots=True)
class DeviceReadout:
    """What one read of one device produced: readings, and per-object problems (not fatal).

    ``unreadable`` holds the same problems by quantity, so that a device total (:meth:`DeviceSnapshot.total`)
    known to lack a row is not taken for the whole.
    """

    readings: tuple[Reading, ...]
    problems: tuple[str, ...] = ()
    unreadable: tuple[Unreadable, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """The outcome of one poll of one device (success or failure), stamped with time."""

    device: str
    timestamp_s: float
    duration_s: float
    ok: bool
    readings: tuple[Reading, ...] = ()
    problems: tuple[str, ...] = ()
    error: str | None = None
    error_kind: str | None = None
    unreadable: tuple[Unreadable, ...] = ()

    def total(self, quantity: str) -> float | None:
        """Sum of this quantity's readings (the device total by glossary convention), or None.

        The sum is over the rows that decoded: check :meth:`problem` before taking it for the device's total.
        """
        values = [r.value for r in self.readings if r.quantity == quantity]
        return math.fsum(values) if values else None

    def problem(self, quantity: str) -> str | None:
        """Why this poll's ``quantity`` is partial (the first unreadable object of it), or None if it is whole."""
        return next((u.problem for u in self.unreadable if u.quantity == quantity), None)


def _labels(mapping: Mapping[str, str]) -> Labels:
    return tuple(sorted(mapping.items()))


def _suffix(oid: str, column: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid[len(column) + 1 :].split("."))


def counter_reading(profile: Profile, obj: ProfileObject, value: float, labels: Labels) -> Reading:
    """The reading of one decoded object: a counter carries its modulus, cap, rate ceiling and resolution
    (:attr:`Profile.counter_traits`)."""
    known = profile.counter_traits.get(id(obj))
    if known is not None and known[0] is obj:
        return Reading(obj.quantity, value, labels, *known[1])
    if not obj.is_counter:
        return Reading(obj.quantity, value, labels)
    return Reading(obj.quantity, value, labels, *profile.traits_of(obj))  # not one of the profile's own objects


def _row_filter_keeps(flt: RowFilter, value: SnmpValue | None) -> bool:
    present = value is not None and not value.missing
    return flt.accepts(value.value if value is not None else None, present)


def _scalar_filter_keeps(flt: RowFilter, scalars: Mapping[str, SnmpValue]) -> bool:
    assert flt.oid is not None
    return _row_filter_keeps(flt, scalars.get(flt.oid))


def _answered(scalars: Mapping[str, SnmpValue], oid: str) -> bool:
    value = scalars.get(oid)
    return value is not None and not value.missing


def _has_rows(profile: Profile, columns: Mapping[str, list[SnmpValue]], column: str) -> bool:
    """Whether the device answered ``column`` with a value in a row the profile's objects on it read."""
    readers = [obj for obj in profile.objects if obj.column == column]
    return any(
        not v.missing
        and v.kind != "null"
        and any(obj.match_index(_suffix(v.oid, column)) is not None for obj in readers)
        for v in columns.get(column, [])
    )


def _snmp_only(profile: Profile) -> None:
    if profile.protocol != "snmp":
        raise ProfileError(
            f"profile {profile.name!r} speaks {profile.protocol}, not SNMP: name it for a device in the site config"
        )


def decode_objects(
    profile: Profile, scalars: Mapping[str, SnmpValue], columns: Mapping[str, list[SnmpValue]]
) -> DeviceReadout:
    """Apply a profile to raw var-binds (pure: no I/O). Per-object problems are collected."""
    _snmp_only(profile)
    readings: list[Reading] = []
    unreadable: list[Unreadable] = []
    for obj in profile.objects:
        if obj.row_filter is not None and not all(
            _scalar_filter_keeps(f, scalars) for f in obj.row_filters if f.oid is not None
        ):
            continue  # a device-wide setting (the unit) says this object is not the one to read
        if obj.instead_of is not None and _answered(scalars, obj.instead_of):
            continue  # a fallback: the preferred object of the same value answered
        if obj.instead_of_column is not None and _has_rows(profile, columns, obj.instead_of_column):
            continue  # a fallback: the preferred table of the same values answered
        if obj.oid is not None:
            value = scalars.get(obj.oid)
            if value is not None and obj.means_no_value(value.value):
                continue  # the device says no probe is connected here
            if value is None or value.missing or (obj.optional and value.kind == "null"):
                # an optional object answered with NULL (CPS-MIB: no sensor, no battery probe) is absent too
                if not obj.optional:
                    unreadable.append(
                        Unreadable(
                            obj.quantity, _labels(obj.labels), f"{obj.quantity} {obj.oid}: not present on device"
                        )
                    )
                continue
            try:
                si = obj.decode(value.kind, value.value if value.value is not None else b"")
            except DecodeError as err:
                unreadable.append(Unreadable(obj.quantity, _labels(obj.labels), f"{obj.oid}: {err}"))
                continue
            readings.append(counter_reading(profile, obj, si, _labels(obj.labels)))
            continue
        assert obj.column is not None
        digits: dict[tuple[int, ...], int] = {}
        if obj.decimals_column is not None:
            for v in columns.get(obj.decimals_column, []):
                if isinstance(v.value, int):
                    digits[_suffix(v.oid, obj.decimals_column)] = v.value
        codes: dict[tuple[int, ...], int | None] = {}
        if obj.scale_column is not None:
            for v in columns.get(obj.scale_column.column, []):
                codes[_suffix(v.oid, obj.scale_column.column)] = v.value if isinstance(v.value, int) else None
        by_column = (
            [
                (f, {_suffix(v.oid, f.column): v for v in columns.get(f.column, [])})
                for f in obj.row_filters
                if f.column is not None
            ]
            if obj.row_filter is not None
            else []
        )
        rows = 0
        for v in columns.get(obj.column, []):
            suffix, labels = obj.row(v.oid)
            if labels is None or (
                by_column and not all(_row_filter_keeps(f, values.get(suffix)) for f, values in by_column)
            ):
                continue
            if obj.no_value and obj.means_no_value(v.value):
                continue  # 'no probe on this port': not a row, not a problem
            rows += 1
            try:
                factor = None
                if obj.scale_column is not None:
                    code = codes.get(suffix)
                    if code is None or code not in obj.scale_column.factors:
                        raise DecodeError(
                            f"{obj.quantity}: scale code {code} (from {obj.scale_column.column}) "
                            "is not one the profile knows"
                        )
                    factor = obj.scale_column.factors[code]
                si = obj.decode(v.kind, v.value if v.value is not None else b"", digits.get(suffix), factor)
            except DecodeError as err:
                unreadable.append(Unreadable(obj.quantity, labels, f"{v.oid}: {err}"))
                continue
            readings.append(counter_reading(profile, obj, si, labels))
        if rows == 0 and not obj.optional:
            unreadable.append(
                Unreadable(obj.quantity, _labels(obj.labels), f"{obj.quantity} {obj.column}: no rows on device")
            )
    return DeviceReadout(tuple(readings), tuple(u.problem for u in unreadable), tuple(unreadable))


async def read_device(client: SnmpClient, target: SnmpTarget, profile: Profile) -> DeviceReadout:
    """Read every object of ``profile`` from one device: batched GETs plus one GETBULK walk.

    Raises
    ------
    SnmpError
        the device could not be read at all (timeout, auth, protocol), or nothing it
        answered fits the profile (SnmpProtocolError).
    """
    _snmp_only(profile)
    scalars: dict[str, SnmpValue] = {}
    columns: dict[str, list[SnmpValue]] = {}
    combined = getattr(client, "get_and_walk", None)  # PysnmpClient: one GETBULK for both where it can
    if combined is not None and profile.scalar_oids and profile.columns:
        values, columns = await combined(target, profile.scalar_oids, profile.columns, profile.max_repetitions)
        scalars = {value.oid: value for value in values}
    else:
        if profile.scalar_oids:
            for value in await client.get(target, profile.scalar_oids):
                scalars[value.oid] = value
        if profile.columns:
            columns = await client.walk(target, profile.columns, profile.max_repetitions)
    readout = decode_objects(profile, scalars, columns)
    if not readout.readings:
        raise SnmpProtocolError(
            f"no object of profile {profile.name!r} could be read: "
            + "; ".join(readout.problems[:5])
            + f" (is {profile.name!r} this device's profile? `pue-agent read "
            f"udp://{target.host}:{target.port}` without --profile detects one, or says "
            "how to draft one)"
        )
    return readout
