"""``export``, ``import`` and ``report`` sub-commands over the history store.

Every command takes ``--db PATH`` or a postgresql:// url (default: the history of ``--config FILE``), and
``--site`` for a site of a shared PostgreSQL history (:mod:`agent.history.factory`). Exit status 0 on
success, 2 on bad input (arguments, files, a database that cannot be used); stored data is never
changed by a failed command.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError, HistoryError, ImportFormatError
from agent.history.export import RESOLUTION_NAMES
from agent.history.importer import DEFAULT_MAX_PUE
from agent.reports.i18n import LANGUAGES
from agent.reports.options import DEFAULT_MAX_OUTSIDE_SHARE, EXTRAPOLATION_CHOICES, IT_LOAD_CHOICES

# the report's libraries (numpy, scipy, matplotlib) and the config's pydantic models load in the commands that
# use them, not at every `pue-agent` start (tests/core/test_cli_startup.py)
if TYPE_CHECKING:
    from datetime import tzinfo

    from agent.history.records import HistoryStore
    from agent.reports.mv_plan import MvPlan

__all__ = ["register"]


def _thresholds(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not three numbers: {text!r}") from None
    if len(values) != 3 or list(values) != sorted(values) or values[0] < 1.0:
        raise argparse.ArgumentTypeError(f"need three increasing values >= 1, e.g. 1.20,1.30,1.50: {text!r}")
    return values[0], values[1], values[2]


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1]: {text!r}")
    return value


def _max_pue(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1.0 < value < 100.0:
        raise argparse.ArgumentTypeError(f"must be above 1 and below 100: {text!r}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", help="history database: a SQLite file or postgresql://... (default: the history of --config)"
    )
    parser.add_argument("--site", help="a site of a shared PostgreSQL history (default: site.name of --config)")
    parser.add_argument("--config", type=Path, help="site config whose history section names the database")
    parser.add_argument(
        "--timezone",
        help="time zone of dates and periods, e.g. Asia/Shanghai (default: site.timezone of --config, else UTC)",
    )


def register(subparsers: Any) -> None:
    """Add ``export``, ``import`` and ``report`` to the ``pue-agent`` sub-commands."""
    p = subparsers.add_parser("export", help="export the site history (canonical CSV, Parquet or Excel)")
    _common(p)
    p.add_argument("--from", dest="start", required=True, help="first day (2026-01-01) or ISO time")
    p.add_argument("--to", dest="end", required=True, help="last day, included (2026-12-31), or ISO time (excluded)")
    p.add_argument("--resolution", choices=list(RESOLUTION_NAMES), default="15min")
    p.add_argument("--format", choices=["csv", "parquet", "xlsx"], help="default: from the --out suffix")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_export, handler=cmd_export)

    p = subparsers.add_parser("import", help="load a site history CSV (canonical columns) into the store")
    _common(p)
    p.add_argument("--history", type=Path, required=True, help="CSV with the canonical history columns")
    p.add_argument(
        "--it-category",
        type=int,
        choices=[1, 2, 3],
        default=None,
        help="measurement category of the IT energy when the file has no it_category column",
    )
    p.add_argument(
        "--max-pue",
        type=_max_pue,
        default=DEFAULT_MAX_PUE,
        help=f"refuse rows whose facility / IT power is above this (default {DEFAULT_MAX_PUE:g})",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: a bar on a terminal, else a line every 10 s once it runs that long)",
    )
    p.set_defaults(func=cmd_import, handler=cmd_import)

    p = subparsers.add_parser("report", help="PUE report (PDF/HTML) for a period, or verified savings")
    _common(p)
    p.add_argument("--period", help="2026 | 2026-03 | FROM..TO")
    p.add_argument("--baseline", help="baseline period FROM..TO (with --compare: verified savings)")
    p.add_argument("--compare", help="reporting period FROM..TO")
    p.add_argument("--out", type=Path, required=True, help="report.pdf or report.html")
    p.add_argument(
        "--emission-factor",
        help="key in the shipped table (default: carbon.emission_factor of --config; none: no carbon figure)",
    )
    p.add_argument(
        "--grade-thresholds",
        type=_thresholds,
        default=None,
        help="GB 40879 grade 1,2,3 limits (default: the shipped table, agent/data/pue_targets.yaml)",
    )
    p.add_argument("--min-coverage", type=_ratio, default=0.95, help="withhold PUE below this coverage")
    p.add_argument("--confidence", type=_ratio, default=0.90, help="confidence of the saving's uncertainty")
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="language of the PDF/HTML report (en, zh)")
    p.add_argument(
        "--report-number",
        help="report number on the cover (default: site.report_number_prefix, the period and the data hash)",
    )
    _savings_options(p)
    p.set_defaults(func=cmd_report, handler=cmd_report)

    from agent.app.history_migrate import register_history

    register_history(subparsers)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1]: {text!r}")
    return value


def _savings_options(p: argparse.ArgumentParser) -> None:
    """The M&V options of ``report --baseline --compare`` (see docs/mv.md)."""
    p.add_argument(
        "--it-load",
        choices=IT_LOAD_CHOICES,
        default="regressor",
        help="regressor: normalise on each day's IT energy (credits IT changes the measure causes); "
        "static: no IT term (the measure's effect on IT counts against the saving)",
    )
    p.add_argument(
        "--extrapolation",
        choices=EXTRAPOLATION_CHOICES,
        default="refuse",
        help="when the reporting period's conditions lie outside the baseline's: refuse (exit 2) or flag",
    )
    p.add_argument(
        "--max-outside",
        type=_share,
        default=DEFAULT_MAX_OUTSIDE_SHARE,
        help=f"largest share of reporting days outside the baseline's conditions (default "
        f"{DEFAULT_MAX_OUTSIDE_SHARE:g})",
    )
    p.add_argument("--mv-plan", type=Path, help="YAML: ecm, boundary, adjustments (period, kwh, description)")
    p.add_argument("--ecm", help="description of the energy conservation measure")
    p.add_argument("--boundary", help="measurement boundary statement")
    p.add_argument(
        "--adjustment",
        nargs=3,
        action="append",
        default=[],
        metavar=("PERIOD", "KWH", "DESCRIPTION"),
        help="non-routine adjustment added to the adjusted baseline (repeatable)",
    )


def _plan(args: argparse.Namespace, tz: tzinfo) -> MvPlan:
    from agent.reports.mv_plan import NO_PLAN, MvPlan, load_mv_plan, parse_adjustment

    plan = load_mv_plan(args.mv_plan, tz) if args.mv_plan is not None else NO_PLAN
    extra = tuple(parse_adjustment(period, kwh, text, tz) for period, kwh, text in args.adjustment)
    return MvPlan(args.ecm or plan.ecm, args.boundary or plan.boundary, plan.adjustments + extra)


def _fail(command: str, message: str) -> int:
    print(f"pue-agent {command}: {message}", file=sys.stderr)
    return 2


def _resolve(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """What to print for the database, and what the config says (site, factor, meters, time zone, the config)."""
    from agent.history.factory import history_target, target_label

    context: dict[str, Any] = {"timezone": "UTC", "cfg": None}
    if args.config is not None:
        from agent.config.site import load_config
        from agent.reports.audit import audit_context

        cfg, _profiles = load_config(args.config)
        context["cfg"] = cfg
        context["audit"] = audit_context(cfg, str(args.config), args.config.read_bytes())
        context["site"] = cfg.site.name
        context["timezone"] = cfg.site.timezone
        context["category"] = cfg.topology.it_category
        context["meters"] = (
            [f"facility: {t.device}" for t in cfg.topology.facility]
            + [f"IT: {t.device}" for t in cfg.topology.it]
            + [f"cooling: {t.device}" for t in cfg.topology.cooling]
            + [f"{name}: {t.device}" for name, terms in cfg.topology.optional_boundaries() for t in terms]
            + [
                f"zone {z} {part}: {t.device}"
                for z, spec in cfg.topology.zones.items()
                for part, terms in (("IT", spec.it), ("overhead", spec.overhead))
                for t in terms
            ]
        )
        carbon = getattr(cfg, "carbon", None)
        if carbon is not None:
            context["factor"] = carbon.emission_factor
            context["carbon"] = carbon
    if getattr(args, "site", None):
        context["site"] = args.site
    if getattr(args, "timezone", None):
        context["timezone"] = args.timezone
    base_dir = args.config.parent if args.config is not None else Path.cwd()
    context["base_dir"] = base_dir
    target = history_target(context["cfg"], base_dir, args.db)
    if target is None:
        raise HistoryError("give --db PATH (or postgresql://...), or --config FILE with a history section")
    return target_label(target), context


def _open(args: argparse.Namespace, context: dict[str, Any], *, readonly: bool) -> HistoryStore:
    """The store ``--db`` / ``--config`` name (SQLite or PostgreSQL); ``--site`` picks a site of a shared one."""
    from agent.history.factory import open_history_store

    return open_history_store(
        context["cfg"], context["base_dir"], db=args.db, readonly=readonly, site=getattr(args, "site", None)
    )


def cmd_export(args: argparse.Namespace) -> int:
    from agent.history.export import export_history
    from agent.reports.periods import parse_period, zone

    try:
        db, context = _resolve(args)
        tz = zone(context["timezone"])
        # one period FROM..TO: a bare TO date is included, an ISO time is the end (a lone ISO time is an empty period)
        start, end = parse_period(f"{args.start}..{args.end}", tz)
        fmt = args.format or args.out.suffix.lower().lstrip(".")
        if fmt not in ("csv", "parquet", "xlsx"):
            return _fail("export", f"cannot tell the format from {args.out.name!r}: give --format csv|parquet|xlsx")
        with closing(_open(args, context, readonly=True)) as store:
            about = {
                "site": context.get("site", "(not named: export with --config)"),
                "period": f"{args.start} .. {args.end} ({context['timezone']})",
                "history database": str(db),
            }
            rows = export_history(
                store, start, end, RESOLUTION_NAMES[args.resolution], args.out, fmt, tz=tz, metadata=about
            )
    except ConfigError as err:
        return _fail("export", str(err))
    except HistoryError as err:
        return _fail("export", str(err))
    print(f"wrote {rows} rows ({args.resolution}) to {args.out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from agent.app.progress import Show, progress
    from agent.history.importer import import_history

    show: Show = "auto" if args.progress is None else "always" if args.progress else "never"
    try:
        db, context = _resolve(args)
        category = args.it_category if args.it_category is not None else context.get("category")
        with progress("import", unit="MB", show=show) as step, closing(_open(args, context, readonly=False)) as store:

            def report(done_bytes: int, total_bytes: int, rows: int) -> None:
                step.update(done_bytes / 1e6, total_bytes / 1e6, note=f"{rows:,} rows")

            count = import_history(store, args.history, category, max_pue=args.max_pue, progress=report)
    except ImportFormatError as err:
        if len(err.problems) == 1:
            return _fail("import", f"{err.problems[0]} (nothing imported)")
        print(
            f"pue-agent import: {args.history}: {len(err.problems)} problem(s), nothing imported:",
            file=sys.stderr,
        )
        for line in err.problems:
            print(f"  {line}", file=sys.stderr)
        return 2
    except (ConfigError, HistoryError) as err:
        return _fail("import", f"{err} (nothing imported)")
    print(f"imported {count} intervals from {args.history} into {db}")
    return 0


def _recompute_args(args: argparse.Namespace) -> list[str]:
    """The report command's own arguments, for the provenance section (how to compute it again)."""
    out = ["--period", args.period]
    if args.config is not None:
        out += ["--config", str(args.config)]
    if args.db is not None:
        from agent.history.factory import target_label

        out += ["--db", target_label(args.db)]  # a url's password never reaches the report
    if getattr(args, "site", None):
        out += ["--site", args.site]
    for flag, value in (("--timezone", args.timezone), ("--emission-factor", args.emission_factor)):
        if value:
            out += [flag, value]
    out += ["--min-coverage", f"{args.min_coverage:g}", "--lang", args.lang, "--out", str(args.out)]
    return out


def cmd_report(args: argparse.Namespace) -> int:
    if bool(args.baseline) != bool(args.compare) or (args.period is None) == (args.baseline is None):
        return _fail("report", "give either --period, or --baseline and --compare")
    from agent.app.progress import progress
    from agent.reports.audit import audit_context, audit_findings
    from agent.reports.periods import parse_period, zone
    from agent.reports.render import render
    from agent.reports.report import load_emission_factor, period_report, savings_report
    from agent.reports.text import savings_lines, summary_lines

    try:
        db, context = _resolve(args)
        key = args.emission_factor or context.get("factor")
        factor = load_emission_factor(key) if key else None
        label = f"report: {args.out.name} from {Path(db).name if '://' not in db else db}"
        with progress(label), closing(_open(args, context, readonly=True)) as store:
            if args.period:
                tz = zone(context["timezone"])
                start, end = parse_period(args.period, tz)
                report = period_report(
                    store,
                    start,
                    end,
                    factor,
                    site=context.get("site", "site"),
                    thresholds=args.grade_thresholds,
                    min_coverage=args.min_coverage,
                    meters=context.get("meters", ()),
                    tz=tz,
                    carbon=context.get("carbon"),
                )
                lines = summary_lines(report, args.lang)
                findings = audit_findings(
                    store, report, context.get("audit") or audit_context(None), args.report_number
                )
            else:
                tz = zone(context["timezone"])
                baseline, compare = parse_period(args.baseline, tz), parse_period(args.compare, tz)
                if baseline[1] > compare[0] and compare[1] > baseline[0]:
                    return _fail("report", "--baseline and --compare overlap")
                saving = savings_report(
                    store,
                    baseline,
                    compare,
                    factor,
                    args.confidence,
                    tz,
                    it_load=args.it_load,
                    extrapolation=args.extrapolation,
                    max_outside_share=args.max_outside,
                    plan=_plan(args, tz),
                )
                lines = savings_lines(saving, args.lang)
            if args.period:
                render(
                    report,
                    args.out,
                    lang=args.lang,
                    context=context.get("audit"),
                    findings=findings,
                    db=str(db),
                    args=_recompute_args(args),
                )
            else:
                render(saving, args.out, lang=args.lang)
    except (ConfigError, HistoryError) as err:
        return _fail("report", str(err))
    for line in lines:
        print(line)
    print(f"wrote {args.out}")
    return 0
