"""``pue-agent demo``: a simulated site on loopback (the twin, or a minimal sine-wave site) and the agent
reading it through the same profiles, with metrics and history, no hardware needed.

Registered with the agent's command line through the ``pue_agent.commands`` entry point: the agent itself
never imports this package.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.app.cli import positive_float, tcp_or_udp_port
from agent.app.runtime import run_agent
from agent.config.site import SiteConfig, load_config
from twin.live import TwinLiveSite
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
    cfg, profiles = load_config(DEMO_CONFIGS[site])
    if base_port is not None:
        devices = tuple(d.model_copy(update={"port": base_port + i}) for i, d in enumerate(cfg.devices))
        cfg = cfg.model_copy(update={"devices": devices})
    if listen_port is not None:
        cfg = cfg.model_copy(update={"listen": cfg.listen.model_copy(update={"port": listen_port})})
    return cfg, profiles


async def _demo(args: argparse.Namespace) -> int:
    cfg, profiles = _demo_config(args.site, args.base_port, args.listen_port)
    if args.listen_address:
        cfg = cfg.model_copy(update={"listen": cfg.listen.model_copy(update={"address": args.listen_address})})
    tmp = Path(tempfile.gettempdir())
    if args.site == "twin" and args.recommender != "off":
        from agent.config.site import RecommenderConfig

        model_dir = Path(args.model) if args.model else _demo_model(tmp / "pue-demo-model-v2")
        # a person approves by hand in the demo: give them minutes, not the default 4 poll intervals (20 s)
        rcfg = RecommenderConfig(
            mode=args.recommender,
            model_dir=model_dir,
            action_log=tmp / "pue-demo-actions.jsonl",
            pending_expiry_s=300.0,
        )
        cfg = cfg.model_copy(update={"recommender": rcfg})
        print(f"recommender: {args.recommender} mode, model {model_dir}", flush=True)
    site: MinimalSite | TwinLiveSite
    if args.site in ("twin", "twin-mixed"):
        site = TwinLiveSite(
            cfg,
            profiles,  # type: ignore[arg-type]
            weather=args.weather,
            speed=args.speed,
            start=DEMO_START,
        )
    else:
        site = MinimalSite(cfg, profiles)  # type: ignore[arg-type]
    truth_file = Path(args.truth_file) if args.truth_file else Path(tempfile.gettempdir()) / "pue-demo-truth.json"
    history = Path(args.history) if args.history else Path(tempfile.gettempdir()) / "pue-demo-history.sqlite"
    async with site.serving(truth_file=truth_file):
        print(
            f"simulated site ({args.site}): {len(site.devices) + len(site.modbus_devices)} devices on 127.0.0.1 ports "
            f"{min(d.port for d in cfg.devices)}-{max(d.port for d in cfg.devices)}; truth in {truth_file}",
            flush=True,
        )
        await run_agent(cfg, profiles, args.duration, history_path=history)
    return 0


def _demo_model(model_dir: Path) -> Path:
    """A cooling model for the demo, trained once (then cached) on 28 days of the twin's safe exploration."""
    from agent.control.artefact import load_model
    from agent.errors import ModelError

    try:
        load_model(model_dir)
        return model_dir
    except (ModelError, OSError):
        pass
    from agent.control.artefact import save_model
    from agent.control.history_io import read_site_history
    from agent.control.training import fit_from_history
    from twin.exploration import write_exploration_history
    from twin.weather import load_site_weather

    print("training the demo's cooling model on 28 days of the twin's safe exploration (once, cached)...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "history.csv"
        # a site explores around where it runs: the twin starts at the legacy 18 C / 7 C
        rows = write_exploration_history(
            load_site_weather("guiyang"),
            DEMO_START - timedelta(days=28),
            28.0,
            900.0,
            csv_path,
            centre_supply_air_c=19.0,
            centre_chw_supply_c=9.0,
            amplitude_c=4.0,
        )
        model = fit_from_history(read_site_history(csv_path))
    window = {"start": (DEMO_START - timedelta(days=28)).isoformat(), "end": DEMO_START.isoformat(), "rows": rows}
    save_model(model, model_dir, window, source="twin safe exploration, Guiyang, 28 d at 15 min")
    return model_dir


def cmd_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="simulated site on loopback + agent + metrics, no hardware needed")
    p.add_argument("--duration", type=positive_float, default=None, help="stop after SECONDS")
    p.add_argument("--base-port", type=tcp_or_udp_port, default=None, help="first UDP port of the simulated devices")
    p.add_argument("--listen-port", type=tcp_or_udp_port, default=None, help="metrics port (default 10330)")
    p.add_argument("--truth-file", default=None, help="where the simulator writes its ground-truth PUE (JSON)")
    p.add_argument(
        "--site",
        choices=sorted(DEMO_CONFIGS),
        default="twin",
        help="twin: physics-based Guiyang hall (default); twin-mixed: the same, its meters on Modbus TCP; "
        "minimal: 7 devices, sine-wave load",
    )
    p.add_argument("--weather", default="guiyang", help="twin weather: guiyang, chengdu, chongqing or an EPW path")
    p.add_argument("--speed", type=positive_float, default=60.0, help="twin time acceleration (simulated s per s)")
    p.add_argument(
        "--history", default=None, help="history database (default: pue-demo-history.sqlite in the temp dir)"
    )
    p.add_argument(
        "--recommender",
        choices=["off", "advise", "approve", "auto"],
        default="advise",
        help="twin only: recommendation mode (default advise: recommend, never write)",
    )
    p.add_argument("--model", default=None, help="model directory (default: train one on the twin, cached)")
    p.add_argument("--listen-address", default=None, help="metrics address (default 127.0.0.1)")
    p.set_defaults(func=cmd_demo)
