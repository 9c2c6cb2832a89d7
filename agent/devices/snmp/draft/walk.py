"""Profile draft input: a walk of a live device or an snmpsim ``.snmprec`` recording, as OID -> value."""

from __future__ import annotations

from pathlib import Path

from agent.devices.snmp.seam import SnmpClient, SnmpTarget, SnmpValue
from agent.errors import UsageError

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

#: what a live draft walks: the system group, the standard power MIBs and every vendor's subtree
WALK_ROOTS = ("1.3.6.1.2.1.1", "1.3.6.1.2.1.33", "1.3.6.1.2.1.99", "1.3.6.1.4.1")

#: snmpsim recording (.snmprec) tag -> SnmpValue kind (the tags a profile can read)
SNMPREC_KIND_BY_TAG = {
    "2": "integer",
    "4": "octets",
    "4x": "octets",
    "5": "null",
    "6": "oid",
    "64": "ipaddress",
    "65": "counter32",
    "66": "gauge32",
    "67": "timeticks",
    "70": "counter64",
}
TYPE_BY_KIND = {"integer": "integer", "gauge32": "gauge32", "counter32": "counter32", "counter64": "counter64"}


# --- input -------------------------------------------------------------------------------------
def read_snmprec(path: Path) -> dict[str, SnmpValue]:
    """OID -> value for every line of an snmpsim recording (``OID|TAG|VALUE``)."""
    values: dict[str, SnmpValue] = {}
    last: SnmpValue | None = None
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise UsageError(f"{path}: {err.strerror or err}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            oid, tag, raw = line.split("|", 2)
        except ValueError:
            if last is not None and last.kind == "octets" and isinstance(last.value, bytes):
                last = values[last.oid] = SnmpValue(last.oid, "octets", last.value + b"\n" + line.encode("utf-8"))
                continue  # a string value with a line break in it
            raise UsageError(f"{path}:{number}: not an OID|TAG|VALUE line") from None
        oid = oid.strip().lstrip(".")
        kind = SNMPREC_KIND_BY_TAG.get(tag.split(":", 1)[0])
        if kind is None:
            continue  # snmpsim variation modules and exotic tags: nothing a profile reads
        value: int | bytes | str | None
        try:
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
        except ValueError:
            raise UsageError(f"{path}:{number}: bad {kind} value {raw[:40]!r}") from None
        last = values[oid] = SnmpValue(oid, kind, value)  # type: ignore[arg-type]
    if not values:
        raise UsageError(f"{path}: no OID|TAG|VALUE lines")
    return values


async def walk_device(client: SnmpClient, target: SnmpTarget) -> dict[str, SnmpValue]:
    """Walk what a draft needs from a live device (:data:`WALK_ROOTS`)."""
    walked = await client.walk(target, WALK_ROOTS, 25)
    values = {v.oid: v for column in walked.values() for v in column if not v.missing}
    for v in await client.get(target, [SYS_DESCR, SYS_OBJECT_ID, SYS_NAME]):
        if not v.missing:
            values[v.oid] = v
    return values
