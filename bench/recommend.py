"""Offline ``recommend`` speed: the one-row optimiser against the batch optimiser on a year of hourly rows.

    .venv/bin/python bench/recommend.py [--rows 8760] [--per-row 300] [--train-days 60] [--levers]

Fits the cooling model on ``--train-days`` of the twin's Guiyang history with safe exploration (as the
tests do), takes a year of hourly conditions from a baseline simulation, then prints seconds and ms per row
for ``optimise_setpoints`` called row by row (on the first ``--per-row`` rows) and for
``optimise_setpoints_batch`` (on all rows), checks both chose the same on the shared rows, and times the
whole ``pue-agent recommend`` command on the year (wall and CPU seconds: on a shared machine the CPU
seconds are what the command costs, the wall seconds what the load made of it). Single-threaded
(threadpoolctl), as the CLI runs on a shared machine. ``--train-days 365`` fits on a whole year, so the
command optimises every hour instead of holding back those warmer than the training data.

``--levers`` times the same for a model with plant levers (docs/levers.md): fitted on ``--train-days`` of the
variable-speed twin's exploration (bench/closed_loop.py ``--design modern-vs``: condenser-water and DP setpoints,
chillers and towers running), the conditions a second exploration year with its levers in force hour by hour;
the one-row search (:func:`models.levers.optimise_with_levers`, what offline ``recommend`` ran per row before)
on ``--per-row`` rows spread over the year against all rows at once
(:func:`models.levers_batch.optimise_with_levers_batch`, which offline ``recommend`` runs), CPU seconds too, the
choices compared on the shared rows, then the whole command.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from agent.control.artefact import save_model
from agent.control.history_io import read_site_history
from agent.control.training import fit_from_history
from models.optimiser import SetpointBounds, optimise_setpoints
from models.optimiser_batch import optimise_setpoints_batch
from twin.history_csv import write_site_history
from twin.simulate import simulate
from twin.weather import load_site_weather


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8760, help="hourly rows to recommend for (default a year)")
    parser.add_argument("--per-row", type=int, default=300, help="rows for the one-row optimiser (default 300)")
    parser.add_argument("--train-days", type=int, default=60)
    parser.add_argument("--levers", action="store_true", help="a model with plant levers (modern-vs twin)")
    args = parser.parse_args()
    if args.levers:
        return lever_main(args)
    weather = load_site_weather("guiyang")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        work = Path(tmp)
        t0 = time.perf_counter()
        history = work / "train.csv"
        write_site_history(
            simulate(weather, days=args.train_days, step_s=3600.0, controller="oracle", explore_c=2.0), history
        )
        model = fit_from_history(read_site_history(history))
        print(f"model: {args.train_days} days of hourly twin history, fitted in {time.perf_counter() - t0:.1f} s")
        year = simulate(weather, days=max(1, args.rows // 24 + 1), step_s=3600.0, controller="baseline")
        conditions_csv = work / "year.csv"
        write_site_history(year, conditions_csv)
        table = read_site_history(conditions_csv)
        rows = np.column_stack(
            [
                np.asarray(table.columns[c], dtype=float)
                for c in ("it_power_w", "outdoor_dry_bulb_c", "outdoor_wet_bulb_c")
            ]
        )[: args.rows]
        bounds = SetpointBounds()
        n_one = min(args.per_row, len(rows))
        t0 = time.perf_counter()
        one = [optimise_setpoints(model, *row, bounds) for row in rows[:n_one]]
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        batch = optimise_setpoints_batch(model, rows, bounds)
        t_batch = time.perf_counter() - t0
        same = sum(a == b for a, b in zip(one, batch[:n_one], strict=True))
        print(f"{'path':<28} {'rows':>6} {'seconds':>9} {'ms/row':>8}")
        print(f"{'optimise_setpoints (1 row)':<28} {n_one:>6} {t_one:>9.2f} {1000 * t_one / n_one:>8.2f}")
        print(f"{'optimise_setpoints_batch':<28} {len(rows):>6} {t_batch:>9.2f} {1000 * t_batch / len(rows):>8.3f}")
        print(
            f"same choice on the {n_one} shared rows: {same}/{n_one}; held back in the batch: "
            f"{sum(c is None for c in batch)}/{len(rows)}"
        )
        model_dir = work / "model"
        save_model(model, model_dir, {"start": "", "end": "", "rows": 0}, source="bench/recommend.py")
        with conditions_csv.open(newline="") as fh:
            reader = csv.DictReader(fh)
            kept = ["timestamp", "it_power_w", "outdoor_dry_bulb_c", "outdoor_wet_bulb_c"]
            lines = [",".join(kept)] + [
                ",".join(r[k] for k in kept) for _, r in zip(range(len(rows)), reader, strict=False)
            ]
        cond = work / "conditions.csv"
        cond.write_text("\n".join(lines) + "\n")
        _time_command(model_dir, cond, work / "r.csv", len(rows))
    print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


def _time_command(model_dir: Path, conditions: Path, out: Path, n_rows: int) -> None:
    """Wall and CPU seconds of ``pue-agent recommend`` (a child process, single-threaded)."""
    cli = Path(sys.executable).with_name("pue-agent")
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [str(cli), "recommend", "--model", str(model_dir), "--conditions", str(conditions), "--out", str(out)],
        check=True,
        # this checkout's code, whichever the virtualenv's editable install points at
        env={
            "OMP_NUM_THREADS": "1",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        },
    )
    wall_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        f"pue-agent recommend on {n_rows} rows: {wall_s:.2f} s wall, {cpu_s:.2f} s CPU "
        "(process start, imports and model load included)"
    )


def lever_main(args: argparse.Namespace) -> int:
    """``--levers``: a lever model of the variable-speed twin, the one-row search against all rows at once."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.closed_loop import START_EPOCH_S, STEP_S, _exploration, _Run, fit_for
    from models.levers import optimise_with_levers
    from models.levers_batch import optimise_with_levers_batch

    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        work = Path(tmp)
        t0 = time.perf_counter()
        run = _Run("guiyang", args.train_days, design="modern-vs")
        model, _ = fit_for(run, _exploration(run, 0))
        assert model.lever_support is not None
        combos = model.lever_support.combos
        print(
            f"model: {args.train_days} days of the modern-vs twin's exploration, levers {list(model.lever_columns)}, "
            f"{len(combos)} lever combinations in its data; fitted in {time.perf_counter() - t0:.1f} s"
        )
        # the conditions: another exploration year (seed 1), its levers in force hour by hour
        year = _exploration(_Run("guiyang", max(1, args.rows // 24 + 1), design="modern-vs"), 1)["inputs"][: args.rows]
        inside = [model.conditions_outside_training(list(r)) is None for r in year[:, :3]]
        rows = year[np.asarray(inside)]
        conditions, levers = rows[:, :3], rows[:, 6:]
        bounds = SetpointBounds()
        n_one = min(args.per_row, len(rows))
        shared = np.linspace(0, len(rows) - 1, n_one).round().astype(int)  # spread over the year, every season
        c0, t0 = time.process_time(), time.perf_counter()
        one = [
            optimise_with_levers(model, *row, bounds, combos, tuple(lever))
            for row, lever in zip(conditions[shared], levers[shared], strict=True)
        ]
        t_one, c_one = time.perf_counter() - t0, time.process_time() - c0
        c0, t0 = time.process_time(), time.perf_counter()
        batch = optimise_with_levers_batch(model, conditions, bounds, combos, levers)
        t_batch, c_batch = time.perf_counter() - t0, time.process_time() - c0
        same = sum(a == batch[i] for a, i in zip(one, shared.tolist(), strict=True))
        print(f"{'path':<30} {'rows':>6} {'wall s':>8} {'CPU s':>8} {'CPU ms/row':>11}")
        print(
            f"{'optimise_with_levers (1 row)':<30} {n_one:>6} {t_one:>8.2f} {c_one:>8.2f} {1000 * c_one / n_one:>11.2f}"
        )
        print(
            f"{'optimise_with_levers_batch':<30} {len(rows):>6} {t_batch:>8.2f} {c_batch:>8.2f} "
            f"{1000 * c_batch / len(rows):>11.3f}"
        )
        print(
            f"one-row search extrapolated to {len(rows)} rows: {c_one / n_one * len(rows):.0f} s CPU; "
            f"same choice on the {n_one} shared rows: {same}/{n_one}; held back in the batch: "
            f"{sum(c is None for c in batch)}/{len(rows)}"
        )
        model_dir = work / "model"
        save_model(model, model_dir, {"start": "", "end": "", "rows": 0}, source="bench/recommend.py --levers")
        header = ["timestamp", "it_power_w", "outdoor_dry_bulb_c", "outdoor_wet_bulb_c"]
        header += ["supply_air_setpoint_c", "chw_supply_setpoint_c", "economizer_enabled", *model.lever_columns]
        lines = [",".join(header)]
        for i, r in enumerate(year):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START_EPOCH_S + i * STEP_S))
            lines.append(",".join([stamp, *(f"{v:.10g}" for v in r[:5]), str(int(r[5])), *(f"{v:g}" for v in r[6:])]))
        cond = work / "conditions.csv"
        cond.write_text("\n".join(lines) + "\n")
        _time_command(model_dir, cond, work / "r.csv", len(year))
    print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
