"""Retraining in `pue-agent run`: scheduled from the config, fed by the agent's own history file, exported.

The twin serves the plant over real SNMP on loopback (in this process, on its own thread); `pue-agent run`
(a subprocess, as an operator starts it) polls it, writes history to a SQLite file that already holds two
weeks of the twin's exploratory history, and retrains the cooling model from that file every few seconds.
Issue 12: before, `run` never gave the agent its history path, so retraining never ran outside a unit test.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from agent.config.site import load_config
from twin.live import TwinLiveSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import free_port, free_udp_range, sample, scrape  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = TESTS.parent
EXE = str(Path(sys.executable).with_name("pue-agent"))


def _history(tmp: Path, end: datetime) -> Path:
    """Fourteen days of the twin exploring its setpoints, ending an hour before ``end``, in a history file."""
    csv_path, db = tmp / "explore.csv", tmp / "history.sqlite"
    start = (end - timedelta(days=14, hours=1)).replace(minute=0, second=0, microsecond=0)
    sim = subprocess.run(
        [
            EXE,
            "twin",
            "simulate",
            "--days",
            "14",
            "--step-min",
            "15",
            "--explore-c",
            "2",
            "--seed",
            "5",
            "--start",
            start.isoformat(),
            "--out",
            str(csv_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sim.returncode == 0, sim.stderr
    imp = subprocess.run(
        [EXE, "import", "--history", str(csv_path), "--db", str(db)], capture_output=True, text=True, timeout=600
    )
    assert imp.returncode == 0, imp.stderr
    return db


def _config(tmp: Path, db: Path) -> tuple[Path, int]:
    data = yaml.safe_load((ROOT / "configs" / "twin-site.yaml").read_text(encoding="utf-8"))
    base = free_udp_range(len(data["devices"]))
    for i, dev in enumerate(data["devices"]):
        dev.update(port=base + i, timeout_s=3.0, retries=1)
    listen = free_port()
    data["listen"] = {"address": "127.0.0.1", "port": listen}
    data["history"] = {"path": str(db)}
    # advise: recommend, never write; no model to start with: the first retraining gives the recommender one
    data["recommender"] = {
        "mode": "advise",
        "retrain_interval_h": 3.0 / 3600,
        "retrain_window_days": 20,
        "action_log": str(tmp / "actions.jsonl"),
    }
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path, listen


class _Twin:
    """The twin serving the config's devices on loopback from its own thread until ``stop``."""

    def __init__(self, config: Path) -> None:
        self._config = config
        self._stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            cfg, profiles = load_config(self._config)
            site = TwinLiveSite(cfg, profiles, speed=60.0, start=datetime.now(UTC))
            async with site.serving(tick_s=0.5):
                self.ready.set()
                while not self._stop.is_set():
                    await asyncio.sleep(0.2)

        try:
            asyncio.run(serve())
        except BaseException as err:
            self.error = err
            self.ready.set()

    def __enter__(self) -> _Twin:
        self._thread.start()
        assert self.ready.wait(120), "the twin did not start serving"
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def test_run_retrains_from_its_history_file_on_schedule_and_exports_the_outcome(tmp_path: Path) -> None:
    db = _history(tmp_path, datetime.now(UTC))
    config, listen = _config(tmp_path, db)
    url = f"http://127.0.0.1:{listen}/metrics"
    with _Twin(config):
        proc = subprocess.Popen(
            [EXE, "run", "--config", str(config), "--duration", "600"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 420  # generous: the fit shares 2 busy cores with 22 devices and the twin
            text = ""
            while time.monotonic() < deadline:
                try:
                    text = scrape(url)
                except OSError:
                    text = ""
                if (sample(text, "pue_model_retrains_total", result="ok") or 0) >= 1:
                    break
                assert proc.poll() is None, proc.communicate()[0][-3000:]
                time.sleep(1.0)
            else:
                raise AssertionError(f"no successful retraining within 420 s; last scrape:\n{text[-3000:]}")
            assert sample(text, "pue_model_retrain_info", result="ok", model_version=_version(text)) == 1.0
            rows = sample(text, "pue_model_retrain_rows")
            assert rows is not None and rows >= 13 * 96, rows  # ~14 days of complete 15-min intervals
            assert (sample(text, "pue_model_retrain_last_success_timestamp_seconds") or 0) > time.time() - 300
            mae = sample(text, "pue_model_validation_pue_mae")
            assert mae is not None and 0 < mae < 0.05, mae
            # no model to start with: the first retrained one is used (champion/challenger), scored on the
            # latest two days it was not fitted on
            assert (sample(text, "pue_model_swaps_total", outcome="swapped") or 0) >= 1
            assert (sample(text, "pue_model_holdout_rows") or 0) >= 16
            assert sample(text, "pue_model_holdout_error_facility_power_mae_watts", model="challenger") is not None
            # realised savings are exported from the start (advise mode applies nothing: zero)
            assert sample(text, "pue_recommendation_realised_savings_kwh", period="month") == 0.0
            # the history writer's health is exported beside it
            assert sample(text, "pue_history_write_errors_total") == 0.0
        finally:
            proc.terminate()  # a fit in progress must not hold the stop (it runs on a daemon thread)
            out, _ = proc.communicate(timeout=60)
    assert "model retraining: retrained on" in out, out[-3000:]


def _version(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("pue_model_retrain_info{"):
            return line.split('model_version="', 1)[1].split('"', 1)[0]
    raise AssertionError("pue_model_retrain_info missing")
