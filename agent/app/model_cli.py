"""``pue-agent model fit`` and ``pue-agent recommend``: offline model fitting and recommendations.

``model fit --history FILE.csv --out MODEL_DIR`` reads a canonical site history, fits the cooling
model, prints its time-ordered hold-out errors and writes MODEL_DIR (model + JSON sidecar).

``recommend --model MODEL_DIR --conditions FILE.csv --out FILE.csv`` writes, per conditions row,
the setpoints of least predicted facility power under the inlet limit, within bounds and the
model's data support. ``--bounds FILE.yaml`` narrows the setpoint ranges; keys and defaults::

    supply_air_min_c: 16.0
    supply_air_max_c: 25.0
    chw_supply_min_c: 5.0
    chw_supply_max_c: 18.0
    allow_economizer: true

``recommend --live http://HOST:PORT`` prints the running agent's recommendation
(``/api/v1/recommendation``) instead.

Exit status: 0 success, 1 the live agent could not be reached, 2 bad input (files, columns,
cells, model directory), with the file, line, column and reason on stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import HistoryFormatError, UsageError

if TYPE_CHECKING:
    from models.optimiser import SetpointBounds

__all__ = ["RECOMMENDATION_PATH", "load_bounds", "register"]

RECOMMENDATION_PATH = "/api/v1/recommendation"
OUTPUT_COLUMNS = (
    "supply_air_setpoint_c",
    "chw_supply_setpoint_c",
    "economizer_enabled",
    "predicted_facility_power_w",
    "predicted_max_inlet_c",
    "predicted_pue",
)
CURRENT_COLUMNS = ("predicted_facility_power_now_w", "predicted_pue_now", "predicted_savings_w")
#: the inlet limits a recommendation may be asked for [C], as the agent's ``recommender.inlet_limit_c``
INLET_LIMIT_RANGE_C = (15.0, 35.0)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_bounds(path: str | Path | None) -> SetpointBounds:
    """Setpoint bounds from a YAML file (unknown keys are errors); defaults without a file.

    Raises
    ------
    HistoryFormatError
        Unreadable file, unknown key, non-numeric value or inverted range.
    """
    from agent.config.strict_yaml import YamlFileError, read_yaml
    from models.optimiser import SetpointBounds

    if path is None:
        return SetpointBounds()
    try:
        data = read_yaml(Path(path))
    except YamlFileError as err:
        raise HistoryFormatError(f"{err} (setpoint bounds)") from None
    data = data or {}
    if not isinstance(data, dict):
        raise HistoryFormatError(f"{path}: bounds must be a mapping of key: value")
    fields = set(SetpointBounds.__dataclass_fields__)
    problems = [f"{path}: unknown key {key!r} (known: {sorted(fields)})" for key in data if key not in fields]
    for key, value in data.items():
        if key == "allow_economizer" and not isinstance(value, bool):
            problems.append(f"{path}: {key}: must be true or false, got {value!r}")
        elif (
            key in fields
            and key != "allow_economizer"
            and (isinstance(value, bool) or not isinstance(value, (int, float)))
        ):
            problems.append(f"{path}: {key}: must be a number, got {value!r}")
    if problems:
        raise HistoryFormatError("\n".join(problems))
    try:
        values: dict[str, Any] = {k: (v if isinstance(v, bool) else float(v)) for k, v in data.items()}
        return SetpointBounds(**values)
    except ValueError as err:
        raise HistoryFormatError(f"{path}: {err}") from err


# the model's libraries (scikit-learn, skops) load in seconds: only the commands that need them import them,
# not every `pue-agent` start (check-config, run)
def _cmd_fit(args: argparse.Namespace) -> int:
    import time

    from agent.app.progress import progress
    from agent.control.artefact import save_model
    from agent.control.history_io import read_site_history
    from agent.control.training import fit_from_history

    with progress(f"model fit: reading {args.history.name}"):
        table = read_site_history(args.history)
    started_s = time.monotonic()
    # the boosting reports nothing while it runs: a spinner (terminal) or a line every 10 s says it is alive
    with progress(f"model fit: fitting the cooling model on {len(table):,} rows (hold-out, then all rows)"):
        model = fit_from_history(table, random_state=args.random_state, holdout_fraction=args.holdout_fraction)
    fit_s = time.monotonic() - started_s
    window = {"start": table.timestamps[0], "end": table.timestamps[-1], "rows": len(table)}
    try:
        sidecar = save_model(model, args.out, window, source=str(args.history))
    except OSError as err:
        raise UsageError(f"--out {args.out}: cannot write the model: {err.strerror or err}") from None
    v = model.validation
    print(f"fitted on {len(table)} rows, {window['start']} .. {window['end']} (model {model.version}) in {fit_s:.0f} s")
    print(f"time-ordered hold-out: last {v.n_holdout} rows (trained on the first {v.n_train})")
    print(f"  PUE MAE:              {v.pue_mae:.4f}")
    print(f"  max inlet MAE:        {v.max_inlet_mae_c:.3f} K")
    print(f"  cooling power MAE:    {v.cooling_power_mae_w / 1e3:.2f} kW")
    print(f"  facility power MAPE:  {v.facility_power_mape_percent:.2f} %")
    print(
        f"uncertainty calibrated on the hold-out to {100 * v.calibration_coverage:g} % coverage: "
        f"within 2 std {v.max_inlet_within_2std_percent:.1f} % (inlet), "
        f"{v.facility_power_within_2std_percent:.1f} % (facility power)"
    )
    print(f"wrote {args.out} ({sidecar.name})")
    return 0


def _cmd_recommend(args: argparse.Namespace) -> int:
    if args.live:
        return _live(args.live, args.timeout)
    if not (args.model and args.conditions and args.out):
        raise HistoryFormatError("recommend needs --model, --conditions and --out (or --live URL)")
    import numpy as np

    from agent.app.progress import progress
    from agent.control.artefact import load_model
    from agent.control.history_io import read_conditions
    from models.optimiser import OptimiserChoice
    from models.optimiser_batch import optimise_setpoints_batch

    loaded = load_model(args.model)
    model = loaded.model
    bounds = load_bounds(args.bounds)
    table = read_conditions(args.conditions)
    levers_now = None
    if model.lever_columns:  # row by row with the levers (agent/control/offline_levers.py, docs/levers.md)
        from agent.control.offline_levers import optimise_rows_with_levers, start_levers

        try:
            levers_now = start_levers(model, table.columns, len(table))
        except ValueError as err:
            raise HistoryFormatError(f"{table.path}:1: {err}") from None
    # the prediction at the current setpoints needs the levers in force too, where the model has levers
    has_current = "supply_air_setpoint_c" in table.columns and all(c in table.columns for c in model.lever_columns)
    columns = ["timestamp", "it_power_w", "outdoor_dry_bulb_c", "outdoor_wet_bulb_c", *OUTPUT_COLUMNS]
    columns += list(model.lever_columns)
    if has_current:
        columns += list(CURRENT_COLUMNS)
    columns.append("held_back_reason")
    held = 0
    try:
        out = Path(args.out).open("w", newline="", encoding="utf-8")
    except OSError as err:
        raise UsageError(f"--out {args.out}: cannot write: {err.strerror or err}") from None
    names = ("it_power_w", "outdoor_dry_bulb_c", "outdoor_wet_bulb_c")
    conditions = np.column_stack([np.asarray(table.columns[c], dtype=float) for c in names]).reshape(-1, 3)
    reasons: list[str | None] = [model.conditions_outside_training(list(row)) for row in conditions]
    asked = [i for i, reason in enumerate(reasons) if reason is None]
    # all rows at once: the same choice per row as optimise_setpoints, a few predict calls instead of 2 per row
    with progress(f"recommend: {len(asked):,} of {len(reasons):,} rows inside the training data"):
        chosen_levers: dict[int, tuple[float, ...]] = {}
        if levers_now is None:
            found = optimise_setpoints_batch(
                model, conditions[asked], bounds, inlet_limit_c=args.inlet_limit_c, uncertainty_k=args.uncertainty_k
            )
        else:
            with_levers = optimise_rows_with_levers(
                model,
                conditions[asked],
                levers_now[asked],
                bounds,
                inlet_limit_c=args.inlet_limit_c,
                uncertainty_k=args.uncertainty_k,
            )
            found = [None if f is None else f.choice for f in with_levers]
            chosen_levers = {i: f.levers for i, f in zip(asked, with_levers, strict=True) if f is not None}
    choices: list[OptimiserChoice | None] = [None] * len(reasons)
    for i, choice in zip(asked, found, strict=True):
        choices[i] = choice
        if choice is None:
            reasons[i] = f"no setpoints within bounds and data support meet {args.inlet_limit_c:g} C"
    now_power: np.ndarray[Any, Any] | None = None
    now_pue: np.ndarray[Any, Any] | None = None
    if has_current:
        current = np.column_stack(
            [
                np.asarray(table.columns[c], dtype=float)
                for c in ("supply_air_setpoint_c", "chw_supply_setpoint_c", "economizer_enabled")
            ]
        ).reshape(-1, 3)
        chosen = [i for i, c in enumerate(choices) if c is not None]
        if levers_now is not None:
            current = np.column_stack((current, levers_now))
        now = model.predict(np.column_stack((conditions, current))[chosen]) if chosen else None
        now_power = np.full(len(choices), np.nan)
        now_pue = np.full(len(choices), np.nan)
        if now is not None:
            now_power[chosen] = now.facility_power_w
            now_pue[chosen] = now.pue
    with out as fh:
        writer = csv.DictWriter(fh, columns, lineterminator="\n")
        writer.writeheader()
        for i, stamp in enumerate(table.timestamps):
            row: dict[str, Any] = {
                "timestamp": stamp,
                "it_power_w": f"{conditions[i, 0]:.1f}",
                "outdoor_dry_bulb_c": f"{conditions[i, 1]:.2f}",
                "outdoor_wet_bulb_c": f"{conditions[i, 2]:.2f}",
            }
            choice = choices[i]
            if choice is not None:
                row.update(
                    supply_air_setpoint_c=f"{choice.supply_air_setpoint_c:.2f}",
                    chw_supply_setpoint_c=f"{choice.chw_supply_setpoint_c:.2f}",
                    economizer_enabled=int(choice.economizer_enabled),
                    predicted_facility_power_w=f"{choice.facility_power_w:.1f}",
                    predicted_max_inlet_c=f"{choice.max_inlet_c:.2f}",
                    predicted_pue=f"{choice.pue:.4f}",
                )
                row.update({n: f"{v:g}" for n, v in zip(model.lever_columns, chosen_levers.get(i, ()), strict=False)})
                if now_power is not None and now_pue is not None:
                    row.update(
                        predicted_facility_power_now_w=f"{now_power[i]:.1f}",
                        predicted_pue_now=f"{now_pue[i]:.4f}",
                        predicted_savings_w=f"{now_power[i] - choice.facility_power_w:.1f}",
                    )
            else:
                held += 1
            row["held_back_reason"] = reasons[i] or ""
            writer.writerow(row)
    print(f"wrote {len(table)} recommendations to {args.out} ({held} held back) with model {model.version}")
    return 0


def _live(url: str, timeout_s: float) -> int:
    import urllib.error
    import urllib.request

    base = url.rstrip("/")
    target = base if base.endswith(RECOMMENDATION_PATH) else base + RECOMMENDATION_PATH
    if not target.startswith(("http://", "https://")):
        raise HistoryFormatError(f"--live must be an http(s) URL, got {url!r}")
    try:
        with urllib.request.urlopen(target, timeout=timeout_s) as response:
            body = response.read().decode("utf-8")
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        print(f"pue-agent recommend: cannot reach {target}: {err}", file=sys.stderr)
        return 1
    try:
        print(json.dumps(json.loads(body), indent=2))
    except json.JSONDecodeError:
        print(f"pue-agent recommend: {target} did not answer JSON", file=sys.stderr)
        return 1
    return 0


def _number_type(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Any:
    """An argparse type: a finite number within [low, high] (ends open as asked)."""
    span = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        inside = (low < value if open_low else low <= value) and (value < high if open_high else value <= high)
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"must be a finite number in {span}, got {text!r}")
        return value

    return number


def register(subparsers: Any) -> None:
    """Add ``model fit`` and ``recommend`` to the ``pue-agent`` sub-commands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.
    """
    model = subparsers.add_parser("model", help="fit the cooling model from a site history")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    fit = model_sub.add_parser("fit", help="fit, validate on a time-ordered hold-out, save MODEL_DIR")
    fit.add_argument("--history", required=True, type=Path, help="canonical site history CSV")
    fit.add_argument("--out", required=True, type=Path, help="model directory to write")
    fit.add_argument(
        "--holdout-fraction",
        type=_number_type(0.0, 1.0, open_low=True, open_high=True),
        default=0.2,
        help="most recent share held out, in (0, 1) (0.2)",
    )
    fit.add_argument("--random-state", type=int, default=0)
    fit.set_defaults(func=_cmd_fit)

    rec = subparsers.add_parser("recommend", help="recommend setpoints for conditions (offline) or show the live one")
    rec.add_argument("--model", type=Path, help="model directory from 'model fit'")
    rec.add_argument(
        "--conditions",
        type=Path,
        help="CSV: timestamp, it_power_w, outdoor_dry_bulb_c, outdoor_wet_bulb_c "
        "[, supply_air_setpoint_c, chw_supply_setpoint_c, economizer_enabled]",
    )
    rec.add_argument("--out", type=Path, help="CSV to write")
    rec.add_argument(
        "--inlet-limit-c",
        type=_number_type(*INLET_LIMIT_RANGE_C),
        default=27.0,
        help="hottest rack inlet limit [C], 15-35 (27)",
    )
    rec.add_argument(
        "--uncertainty-k",
        type=_number_type(0.0, 10.0),
        default=2.0,
        help="safety factor on the inlet uncertainty, 0-10 (2)",
    )
    rec.add_argument("--bounds", type=Path, help="YAML setpoint bounds (defaults in the module docstring)")
    rec.add_argument("--live", metavar="URL", help=f"print the running agent's {RECOMMENDATION_PATH}")
    rec.add_argument("--timeout", type=_number_type(0.0, 3600.0, open_low=True), default=5.0, help="--live timeout [s]")
    rec.set_defaults(func=_cmd_recommend)
