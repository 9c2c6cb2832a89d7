"""``pue-agent demo``: a simulated site on loopback (the twin, or a minimal sine-wave site) and the agent
reading it through the same profiles, with metrics and history, no hardware needed.

Registered with the agent's command line through the ``pue_agent.commands`` entry point: the agent itself
never imports this package.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.app.cli import positive_float, tcp_or_udp_port
from twin.cli import _non_negative_float

if TYPE_CHECKING:  # the agent, the twin's physics and its SNMP responders load when the demo runs
    from agent.config.site import SiteConfig
    from twin.live import TwinLiveSite
    from twin.serve.pki import BmcTls
    from twin.serve.site import MinimalSite

__all__ = ["DEMO_CONFIGS", "DEMO_START", "register"]

#: the demo sites' configs, shipped beside the twin (links to ``configs/`` in the source tree)
_DATA = Path(__file__).resolve().parent / "data"

#: simulated time at which the demo's twin starts: mid-March in Guiyang, 14:00 local, when free cooling
#: starts to pay and a legacy setpoint schedule leaves the most on the table
DEMO_START = datetime(2026, 3, 15, 6, tzinfo=UTC)

DEMO_CONFIGS = {
    "twin": _DATA / "twin-site.yaml",
    "twin-mixed": _DATA / "twin-site-mixed.yaml",  # the meters on Modbus TCP, the rest SNMP
    "minimal": _DATA / "demo-site.yaml",
}


def _demo_config(site: str, base_port: int | None, listen_port: int | None) -> tuple[SiteConfig, object]:
    from agent.config.site import load_config

    cfg, profiles = load_config(DEMO_CONFIGS[site])
    if base_port is not None:
        devices = tuple(d.model_copy(update={"port": base_port + i}) for i, d in enumerate(cfg.devices))
        cfg = cfg.model_copy(update={"devices": devices})
    if listen_port is not None:
        cfg = cfg.model_copy(update={"listen": cfg.listen.model_copy(update={"port": listen_port})})
    return cfg, profiles


def state_dir() -> Path:
    """Where the demo keeps what it writes per user: history, ground truth, action log (XDG Base Directory)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pue-agent" / "demo"


def cache_dir() -> Path:
    """Where the demo caches what it can rebuild: the trained cooling model (XDG Base Directory)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pue-agent"


def _checked_model(model: str) -> Path:
    """``--model DIR`` loaded once before anything starts: a missing or broken model is bad input (exit 2)."""
    from agent.control.artefact import load_model
    from agent.errors import ModelError

    model_dir = Path(model)
    if not model_dir.is_dir():
        raise ModelError(f"--model {model}: no such model directory (train one with `pue-agent model fit`)")
    try:
        load_model(model_dir)
    except OSError as err:
        raise ModelError(f"--model {model}: cannot read the model: {err.strerror or err}") from None
    return model_dir


def _say_reused(path: Path, what: str) -> None:
    if path.exists():
        print(f"reusing {what} {path} from an earlier demo (delete it to start afresh)", flush=True)


async def _demo(args: argparse.Namespace, model_dir: Path | None) -> str:
    from agent.app.run import run_agent
    from twin.live import TwinLiveSite
    from twin.serve.site import MinimalSite

    cfg, profiles = _demo_config(args.site, args.base_port, args.listen_port)
    if args.listen_address:
        cfg = cfg.model_copy(update={"listen": cfg.listen.model_copy(update={"address": args.listen_address})})
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    if model_dir is not None:
        from agent.config.site import RecommenderConfig

        actions = state / "actions.jsonl"
        _say_reused(actions, "the action log")
        # a person approves by hand in the demo: give them minutes, not the default 4 poll intervals (20 s)
        rcfg = RecommenderConfig(mode=args.recommender, model_dir=model_dir, action_log=actions, pending_expiry_s=300.0)
        cfg = cfg.model_copy(update={"recommender": rcfg})
    cfg, redfish_tls = _bmc_pki(cfg, state / "bmc-pki")
    site: MinimalSite | TwinLiveSite
    if args.site in ("twin", "twin-mixed"):
        from twin.design import DESIGNS

        site = TwinLiveSite(
            cfg,
            profiles,  # type: ignore[arg-type]
            weather=args.weather,
            speed=args.speed,
            start=DEMO_START,
            design=DESIGNS[args.design],
            redfish_tls=redfish_tls,
        )
    else:
        site = MinimalSite(cfg, profiles)  # type: ignore[arg-type]
    truth_file = Path(args.truth_file) if args.truth_file else state / "truth.json"
    history = Path(args.history) if args.history else state / "history.sqlite"
    _say_reused(history, "the history")
    async with site.serving(truth_file=truth_file):
        print(
            f"simulated site ({args.site}): {len(cfg.devices)} devices on 127.0.0.1 ports "
            f"{min(d.port for d in cfg.devices)}-{max(d.port for d in cfg.devices)}; truth in {truth_file}",
            flush=True,
        )
        return await run_agent(
            cfg, profiles, args.duration, history_path=history, status_every_s=args.status_every or None
        )


def _bmc_pki(cfg: SiteConfig, directory: Path) -> tuple[SiteConfig, BmcTls | None]:
    """A site with Redfish servers: a CA and BMC certificate made for this run, the CA trusted by the agent.

    The shipped config names ``bmc-ca.pem``; a real site points at its own CA. Verification stays on.
    """
    from agent.config.site import RedfishCredentials

    names = [n for n, c in cfg.credentials.items() if isinstance(c, RedfishCredentials)]
    if not names or not any(d.credentials in names for d in cfg.devices):
        return cfg, None
    from twin.serve.pki import make_test_pki

    tls = make_test_pki(directory)
    credentials = {
        n: c.model_copy(update={"ca_file": tls.ca_file}) if n in names else c for n, c in cfg.credentials.items()
    }
    return cfg.model_copy(update={"credentials": credentials}), tls


def _demo_model(model_dir: Path) -> Path:
    """The cached demo model, trained by one demo at a time: two demos starting together (two test workers, or
    two users of one cache) would otherwise both train it and write the same files."""
    import fcntl

    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with (model_dir.parent / f".{model_dir.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        return _cached_or_trained_model(model_dir)


def _cached_or_trained_model(model_dir: Path) -> Path:
    """A cooling model for the demo, trained once (then cached) on 28 days of the twin's safe exploration."""
    from agent.control.artefact import load_model
    from agent.errors import ModelError

    try:
        loaded = load_model(model_dir)
        print(f"reusing the demo's cooling model {model_dir} (model {loaded.model.version})", flush=True)
        return model_dir
    except (ModelError, OSError):
        pass
    import resource
    import time

    from threadpoolctl import threadpool_limits

    from agent.app.progress import progress
    from agent.control.artefact import save_model
    from agent.control.history_io import read_site_history
    from agent.control.training import fit_from_history
    from twin.exploration import write_exploration_history
    from twin.weather import load_site_weather

    print(f"training the demo's cooling model on 28 days of the twin's safe exploration (cached in {model_dir})")
    started_s, started_cpu_s = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "history.csv"
        # a site explores around where it runs: the twin starts at the legacy 18 C / 7 C
        with progress("demo: simulating 28 days of safe exploration", unit="steps") as step:
            rows = write_exploration_history(
                load_site_weather("guiyang"),
                DEMO_START - timedelta(days=28),
                28.0,
                900.0,
                csv_path,
                centre_supply_air_c=19.0,
                centre_chw_supply_c=9.0,
                amplitude_c=4.0,
                progress=lambda done, total: step.update(done, total),
            )
        # one OpenMP thread: the twin's devices and the agent share the machine with the fit (oversubscribed
        # OpenMP threads made a retrain fit 40x slower on a busy 2-core box)
        with progress(f"demo: fitting the cooling model on {rows:,} rows"), threadpool_limits(limits=1):
            model = fit_from_history(read_site_history(csv_path))
    window = {"start": (DEMO_START - timedelta(days=28)).isoformat(), "end": DEMO_START.isoformat(), "rows": rows}
    save_model(model, model_dir, window, source="twin safe exploration, Guiyang, 28 d at 15 min")
    took_s = time.monotonic() - started_s
    cpu_s = resource.getrusage(resource.RUSAGE_SELF).ru_utime - started_cpu_s
    print(f"trained the demo's cooling model in {took_s:.0f} s ({cpu_s:.0f} s of CPU): {model_dir}", flush=True)
    return model_dir


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio

    from agent.app.cli import exit_status

    model_dir: Path | None = None
    if args.site in ("twin", "twin-mixed") and args.recommender != "off":
        # checked or trained before the simulated site starts: a bad --model is one line, not a traceback later
        model_dir = _checked_model(args.model) if args.model else _demo_model(cache_dir() / "demo-model-v2")
    return exit_status(asyncio.run(_demo(args, model_dir)))


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="simulated site on loopback + agent + metrics, no hardware needed")
    p.add_argument("--duration", type=positive_float, default=None, help="stop after SECONDS")
    p.add_argument("--base-port", type=tcp_or_udp_port, default=None, help="first UDP port of the simulated devices")
    p.add_argument("--listen-port", type=tcp_or_udp_port, default=None, help="metrics port (default 10330)")
    p.add_argument(
        "--truth-file", default=None, help="where the simulator writes its ground-truth PUE (JSON; default: state dir)"
    )
    p.add_argument(
        "--site",
        choices=sorted(DEMO_CONFIGS),
        default="twin",
        help="twin: physics-based Guiyang hall (default); twin-mixed: the same, its meters on Modbus TCP and its "
        "plant controller on BACnet/IP; "
        "minimal: 7 devices, sine-wave load",
    )
    p.add_argument("--weather", default="guiyang", help="twin weather: guiyang, chengdu, chongqing or an EPW path")
    p.add_argument("--speed", type=positive_float, default=60.0, help="twin time acceleration (simulated s per s)")
    p.add_argument(
        "--design",
        choices=("legacy", "modern-ups", "modern-vs"),
        default="legacy",
        help="twin hall design; modern-vs: a variable-speed plant serving its levers (docs/levers.md)",
    )
    p.add_argument(
        "--history",
        default=None,
        help="history database (default: history.sqlite in $XDG_STATE_HOME/pue-agent/demo, "
        "else ~/.local/state/pue-agent/demo)",
    )
    p.add_argument(
        "--recommender",
        choices=["off", "advise", "approve", "auto"],
        default="advise",
        help="twin and twin-mixed: recommendation mode (default advise: recommend, never write)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="model directory (default: train one on the twin, cached in $XDG_CACHE_HOME or ~/.cache/pue-agent)",
    )
    p.add_argument(
        "--status-every",
        type=_non_negative_float,
        default=10.0,
        metavar="SECONDS",
        help="print a status line (PUE, recommendation, last action) this often; 0: never (default 10)",
    )
    p.add_argument("--listen-address", default=None, help="metrics address (default 127.0.0.1)")
    p.set_defaults(func=cmd_demo)
