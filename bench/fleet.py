"""Fleet bench: serve every recording with snmpsim, read each as ``pue-agent read`` does, score vs LibreNMS.

One module (over 400 lines): one bench run from serving the recordings to the scored table.

Every ``NAME.snmprec`` in the given directories is served by ONE snmpsim process on loopback (community =
file stem), then detected and read over real UDP with :class:`agent.devices.snmp.client.PysnmpClient`
through the same functions ``pue-agent read`` uses (:func:`agent.devices.snmp.detect.detect_profile`,
:func:`agent.devices.readings.read_device`).
Each reading is traced back to the instance OID it was decoded from and compared with what LibreNMS derives
from the same walk (``NAME.json`` next to the recording; for the project's own trimmed fixtures, which have
no JSON, ``tests/fixtures/expected/NAME.yaml``).

Scored: LibreNMS sensors of classes power (W), power_consumed (kWh -> J x 3.6e6), temperature (degC),
current (A) and voltage (V). A sensor matches when a reading of the same unit from the same OID is within
1 % or 0.05 absolute of LibreNMS x to_si. A recording is *read* when >= 80 % of those sensors match.
Where LibreNMS is wrong, ``bench/fleet_overrides.yaml`` corrects the expected value or skips the sensor,
each with its reason (reviewed; never silent).

    .venv/bin/python bench/fleet.py                                    # the project's fixtures
    .venv/bin/python bench/fleet.py --dir ../shared/data/devices --dir ../shared/data/devices/fleet \\
        --json /tmp/fleet.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from snmpsim_server import snmpsim  # noqa: E402  (tests/snmpsim_server.py)

from agent.devices.profiles import Profile, ProfileRegistry, load_profiles  # noqa: E402
from agent.devices.quantities import GLOSSARY  # noqa: E402
from agent.devices.readings import Reading, read_device  # noqa: E402
from agent.devices.snmp.client import PysnmpClient  # noqa: E402
from agent.devices.snmp.detect import detect_profile  # noqa: E402
from agent.devices.snmp.seam import SnmpTarget, V2cAuth  # noqa: E402
from agent.errors import ProfileError, PueAgentError  # noqa: E402

DEFAULT_DIR = ROOT / "tests" / "fixtures" / "devices"
EXPECTED_DIR = ROOT / "tests" / "fixtures" / "expected"
DEFAULT_OVERRIDES = Path(__file__).resolve().parent / "fleet_overrides.yaml"

#: LibreNMS sensor class -> (our unit, factor from LibreNMS's unit to SI)
CLASSES: dict[str, tuple[str, float]] = {
    "power": ("W", 1.0),
    "power_consumed": ("J", 3.6e6),
    "temperature": ("Cel", 1.0),
    "current": ("A", 1.0),
    "voltage": ("V", 1.0),
}
REL_TOL = 0.01
ABS_TOL = 0.05
READ_SHARE = 0.8


# --- expectations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    """One LibreNMS sensor to match: class, OID, value in SI (None: skipped by an override)."""

    sensor_class: str
    oid: str
    value_si: float | None
    unit: str
    descr: str = ""
    override: str | None = None


@dataclass
class Override:
    recording: str
    oid: str
    reason: str
    corrected: float | None = None  # in LibreNMS's unit (x to_si applied like any sensor)
    skip: bool = False


def load_overrides(path: Path) -> dict[tuple[str, str], Override]:
    """``bench/fleet_overrides.yaml``: each entry names recording, oid, reason and corrected or skip."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("overrides") or []
    out: dict[tuple[str, str], Override] = {}
    for number, entry in enumerate(entries, 1):
        where = f"{path}: override {number}"
        unknown = set(entry) - {"recording", "oid", "reason", "corrected", "skip"}
        if unknown:
            raise SystemExit(f"{where}: unknown keys {sorted(unknown)}")
        if not str(entry.get("reason") or "").strip():
            raise SystemExit(f"{where}: every override gives its reason")
        if ("corrected" in entry) == bool(entry.get("skip")):
            raise SystemExit(f"{where}: give exactly one of 'corrected: VALUE' or 'skip: true'")
        ov = Override(
            str(entry["recording"]),
            str(entry["oid"]).lstrip("."),
            str(entry["reason"]),
            None if "corrected" not in entry else float(entry["corrected"]),
            bool(entry.get("skip")),
        )
        key = (ov.recording, ov.oid)
        if key in out:
            raise SystemExit(f"{where}: {key} overridden twice")
        out[key] = ov
    return out


def expectations(recording: Path, overrides: Mapping[tuple[str, str], Override]) -> tuple[str, list[Expected]]:
    """(source, sensors) for a recording: LibreNMS's JSON beside it, else our expectation file."""
    name = recording.stem
    raw: list[tuple[str, str, float, str, str, float]] = []  # class, oid, LibreNMS value, descr, unit, to_si
    json_path = recording.with_suffix(".json")
    yaml_path = EXPECTED_DIR / f"{name}.yaml"
    if json_path.exists():
        source = "librenms-json"
        data = json.loads(json_path.read_text(encoding="utf-8"))
        sensors = ((data.get("sensors") or {}).get("discovery") or {}).get("sensors") or []
        for s in sensors:
            if s.get("sensor_class") in CLASSES and s.get("sensor_current") is not None:
                cls = s["sensor_class"]
                raw.append(
                    (
                        cls,
                        str(s["sensor_oid"]).lstrip("."),
                        float(s["sensor_current"]),
                        str(s.get("sensor_descr") or ""),
                        *CLASSES[cls],
                    )
                )
    elif yaml_path.exists():
        source = "expected-yaml"
        case = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
        for s in case.get("sensors") or []:
            # our own expectation names the quantity (and so the unit) where LibreNMS's class is wrong
            if s.get("class") in CLASSES:
                raw.append(
                    (
                        s["class"],
                        str(s["oid"]).lstrip("."),
                        float(s["librenms"]),
                        "",
                        GLOSSARY[s["quantity"]].unit,
                        float(s["to_si"]),
                    )
                )
    else:
        return "none", []
    out: list[Expected] = []
    for cls, oid, value, descr, unit, to_si in raw:
        ov = overrides.get((name, oid))
        if ov is not None and ov.skip:
            out.append(Expected(cls, oid, None, unit, descr, f"skip: {ov.reason}"))
            continue
        value_si = value * to_si
        if ov is not None and ov.corrected is not None:
            # the corrected value is in LibreNMS's unit for the class; an expectation file's own to_si may
            # already hold the same correction (0.1 V where LibreNMS read V), so it is not applied again
            value_si = ov.corrected * CLASSES[cls][1]
        out.append(Expected(cls, oid, value_si, unit, descr, None if ov is None else f"corrected: {ov.reason}"))
    return source, out


# --- readings -> the OIDs they came from -----------------------------------------------------------
def reading_oids(profile: Profile, readings: Iterable[Reading]) -> dict[str, list[tuple[str, float]]]:
    """Instance OID -> [(unit, value)] for every reading, via the profile objects whose labels fit it.

    Tolerant where tests/profiles/recordings.py is strict: a reading that fits several objects is
    credited to each (a bench scores what was read, the tests check the profile's shape).
    """
    out: dict[str, list[tuple[str, float]]] = {}
    for reading in readings:
        labels = reading.label_dict
        for obj in profile.objects:
            if obj.quantity != reading.quantity:
                continue
            if any(labels.get(k) != v for k, v in obj.labels.items()):
                continue
            index_labels = {p.label for p in obj.index if p.label is not None}
            if not index_labels <= set(labels):
                continue
            if obj.oid is not None and set(labels) != set(obj.labels):
                continue
            oid = obj.instance_oid(labels)
            out.setdefault(oid, []).append((GLOSSARY[reading.quantity].unit, reading.value))
    return out


def close(value: float, expected: float) -> bool:
    return math.isclose(value, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)


# --- one recording ----------------------------------------------------------------------------------
@dataclass
class Result:
    recording: str
    directory: str
    source: str
    profile: str | None = None
    error: str | None = None
    readings: int = 0
    problems: int = 0
    matched: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def sensors(self) -> int:
        return sum(self.total.values())

    @property
    def read(self) -> bool:
        return self.sensors > 0 and sum(self.matched.values()) >= READ_SHARE * self.sensors


def score(result: Result, expected: Sequence[Expected], by_oid: Mapping[str, list[tuple[str, float]]]) -> None:
    for exp in expected:
        if exp.value_si is None:
            result.skipped += 1
            continue
        unit = exp.unit
        result.total[exp.sensor_class] = result.total.get(exp.sensor_class, 0) + 1
        got = by_oid.get(exp.oid, [])
        if any(u == unit and close(v, exp.value_si) for u, v in got):
            result.matched[exp.sensor_class] = result.matched.get(exp.sensor_class, 0) + 1
            continue
        if not got:
            why = "not read"
        elif any(close(v, exp.value_si) for _u, v in got):
            why = f"same number, unit {'/'.join(sorted({u for u, _v in got}))} (LibreNMS: {unit})"
        else:
            why = "value differs"
        result.unmatched.append(
            {
                "class": exp.sensor_class,
                "oid": exp.oid,
                "descr": exp.descr,
                "expected_si": exp.value_si,
                "got": [[u, v] for u, v in got],
                "why": why,
            }
        )


async def read_one(
    client: PysnmpClient,
    port: int,
    registry: ProfileRegistry,
    recording: Path,
    expected: tuple[str, list[Expected]],
    timeout_s: float,
) -> Result:
    result = Result(recording.stem, str(recording.parent), expected[0])
    target = SnmpTarget("127.0.0.1", port, V2cAuth(recording.stem), timeout_s=timeout_s, retries=1)
    start = time.monotonic()
    try:
        profile = await detect_profile(client, target, registry)
        result.profile = profile.name
        readout = await read_device(client, target, profile)
    except ProfileError as err:
        result.error = f"no profile: {str(err).splitlines()[0][:160]}"
    except PueAgentError as err:
        result.error = f"{type(err).__name__}: {str(err)[:160]}"
    else:
        result.readings = len(readout.readings)
        result.problems = len(readout.problems)
        score(result, expected[1], reading_oids(profile, readout.readings))
        result.seconds = time.monotonic() - start
        return result
    score(result, expected[1], {})
    result.seconds = time.monotonic() - start
    return result


async def read_all(
    port: int,
    registry: ProfileRegistry,
    recordings: Sequence[Path],
    expected: Mapping[Path, tuple[str, list[Expected]]],
    concurrency: int,
    timeout_s: float,
    progress: Any = None,
) -> list[Result]:
    client = PysnmpClient()
    gate = asyncio.Semaphore(concurrency)

    async def one(rec: Path) -> Result:
        async with gate:
            res = await read_one(client, port, registry, rec, expected[rec], timeout_s)
        if progress is not None:
            progress()
        return res

    try:
        return list(await asyncio.gather(*(one(r) for r in recordings)))
    finally:
        await client.close()


# --- report -----------------------------------------------------------------------------------------
def totals(results: Sequence[Result]) -> dict[str, Any]:
    with_sensors = [r for r in results if r.sensors]
    return {
        "recordings": len(results),
        "detected": sum(r.profile is not None for r in results),
        "with_sensors": len(with_sensors),
        "read": sum(r.read for r in with_sensors),
        "sensors_matched": {c: sum(r.matched.get(c, 0) for r in results) for c in CLASSES},
        "sensors_total": {c: sum(r.total.get(c, 0) for r in results) for c in CLASSES},
        "sensors_skipped_by_override": sum(r.skipped for r in results),
    }


def _cell(r: Result, cls: str) -> str:
    total = r.total.get(cls, 0)
    return f"{r.matched.get(cls, 0)}/{total}" if total else "-"


def print_report(results: Sequence[Result], summary: Mapping[str, Any], wall_s: float) -> None:
    head = ["recording", "profile", *CLASSES, "read"]
    rows = []
    for r in sorted(results, key=lambda r: (r.directory, r.recording)):
        profile = r.profile or "no profile"
        if r.error and r.profile:
            profile += " (read failed)"
        rows.append(
            [r.recording, profile, *(_cell(r, c) for c in CLASSES), ("yes" if r.read else "no") if r.sensors else "-"]
        )
    per_class = ", ".join(f"{c} {summary['sensors_matched'][c]}/{summary['sensors_total'][c]}" for c in CLASSES)
    lines = [
        f"recordings {summary['recordings']}, detected {summary['detected']}, with sensors "
        f"{summary['with_sensors']}, read {summary['read']}/{summary['with_sensors']}",
        f"sensors matched: {per_class} (skipped by override: {summary['sensors_skipped_by_override']})",
        f"wall time {wall_s:.1f} s",
    ]
    try:
        if not sys.stdout.isatty():  # logs, CI and tests get plain lines: rich wraps and truncates at 80 columns
            raise ImportError
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
        for row in [head, *rows]:
            print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
        print()
        for line in lines:
            print(line)
        return
    table = Table(title="fleet")
    for h in head:
        table.add_column(h)
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    for line in lines:
        console.print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--dir",
        action="append",
        type=Path,
        default=[],
        help=f"directory of NAME.snmprec (+ NAME.json); repeatable (default {DEFAULT_DIR})",
    )
    parser.add_argument("--only", action="append", default=[], help="only these recordings (file stems)")
    parser.add_argument("--json", type=Path, default=None, help="write the per-recording results here")
    parser.add_argument("--overrides", type=Path, default=DEFAULT_OVERRIDES)
    parser.add_argument("--profile-dir", action="append", type=Path, default=[], help="extra profile directory")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=5.0, help="SNMP timeout per request (s)")
    args = parser.parse_args(argv)

    dirs = args.dir or [DEFAULT_DIR]
    recordings: list[Path] = []
    seen: dict[str, Path] = {}
    for d in dirs:
        for rec in sorted(d.glob("*.snmprec")):
            if args.only and rec.stem not in args.only:
                continue
            if rec.stem in seen:
                raise SystemExit(f"{rec}: same name as {seen[rec.stem]} (the community is the file stem)")
            seen[rec.stem] = rec
            recordings.append(rec)
    if not recordings:
        raise SystemExit(f"no .snmprec recordings in {', '.join(map(str, dirs))}")
    from agent.devices.profiles import DEFAULT_PROFILE_DIR

    registry = load_profiles([DEFAULT_PROFILE_DIR, *args.profile_dir])
    overrides = load_overrides(args.overrides)
    expected = {rec: expectations(rec, overrides) for rec in recordings}
    known = {rec.stem for rec in recordings}
    stale = sorted(
        f"{k[0]} {k[1]}" for k in overrides if k[0] in known and not any(e.oid == k[1] for e in expected[seen[k[0]]][1])
    )
    if stale:
        print(f"warning: overrides naming no LibreNMS sensor: {', '.join(stale)}", file=sys.stderr)

    start = time.monotonic()
    with snmpsim(recordings, ready_timeout_s=600) as port:
        served = time.monotonic()
        try:
            from rich.progress import Progress
        except ImportError:
            results = asyncio.run(read_all(port, registry, recordings, expected, args.concurrency, args.timeout))
        else:
            with Progress(transient=True) as bar:
                task = bar.add_task("reading", total=len(recordings))
                results = asyncio.run(
                    read_all(
                        port, registry, recordings, expected, args.concurrency, args.timeout, lambda: bar.advance(task)
                    )
                )
    wall_s = time.monotonic() - start
    summary = totals(results)
    print_report(results, summary, wall_s)
    print(f"(snmpsim start {served - start:.1f} s)")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "dirs": [str(d) for d in dirs],
                    "wall_s": wall_s,
                    "summary": summary,
                    "results": [dict(asdict(r), read=r.read, sensors=r.sensors) for r in results],
                },
                indent=1,
            ),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
