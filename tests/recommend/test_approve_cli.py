"""``pue-agent approve / reject / status`` against an agent's HTTP API: results and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from prometheus_client.registry import CollectorRegistry

from agent.app.cli import main
from agent.app.http import ApiHandlers, HttpServer
from agent.app.security import make_http_server
from agent.config.web import WebConfig

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port

WRITES = [
    {"device": f"crah-{i}", "quantity": "supply_air_setpoint_c", "before": 18.0, "after": 19.0, "result": "ok"}
    for i in (1, 2)
] + [{"device": "chiller-plant", "quantity": "economizer_enabled", "before": 0.0, "after": 1.0, "result": "ok"}]
STATUS = {
    "site": "hall-1",
    "pue": {"realtime": 1.412, "valid": True},
    "devices_up": 21,
    "devices_down": 1,
    "devices": [{"name": "ups-b", "role": "ups", "up": False, "problem": "timeout"}],
    "recommendation": {
        "mode": "approve",
        "held_back_reason": None,
        "setpoints": {"supply_air_setpoint_c": 19.0, "chw_supply_setpoint_c": 8.0, "economizer_enabled": True},
        "current": {"supply_air_setpoint_c": 18.0, "chw_supply_setpoint_c": 7.0, "economizer_enabled": False},
        "predicted_savings_w": 21500.0,
        "confidence": 0.93,
        "pending_id": 4,
    },
    "actions": [],
}


class FakeAgent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def approve(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("approve", payload))
        if payload["id"] != 4:
            return {"ok": False, "error": f"no pending recommendation with id {payload['id']}", "pending_id": 4}
        return {"ok": True, "actions": WRITES}

    def reject(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("reject", payload))
        return {"ok": True, "rejected": payload["id"], "rejected_by": payload["rejected_by"]}


@pytest.fixture
def agent() -> Any:
    fake = FakeAgent()
    api = ApiHandlers()
    api.approve, api.reject, api.status = fake.approve, fake.reject, lambda: STATUS
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    server = make_http_server(CollectorRegistry(), api, WebConfig(basic_auth_users={"alice": hashed}))  # type: ignore[dict-item]
    host, port = server.start("127.0.0.1", free_port())
    fake.url = f"http://{host}:{port}"  # type: ignore[attr-defined]
    yield fake
    server.stop()


def test_approve_prints_what_was_written_and_the_agent_records_the_authenticated_user(
    agent: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUE_AGENT_PASSWORD", "s3cret")
    assert main(["approve", "4", "--url", agent.url, "--user", "alice", "--as", "bob"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("recommendation 4 approved: 3 of 3 setpoint writes done and read back")
    assert "supply_air_setpoint_c: 18.0 -> 19.0 on 2 devices (crah-1, crah-2): ok" in out
    assert agent.calls == [("approve", {"id": 4, "approved_by": "alice"})]  # basic auth beats --as


def test_no_such_pending_id_is_one_line_exit_1(
    agent: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUE_AGENT_PASSWORD", "s3cret")
    assert main(["approve", "9", "--url", agent.url, "--user", "alice"]) == 1
    err = capsys.readouterr().err
    assert err == "pue-agent approve: no pending recommendation with id 9\n"


def test_wrong_or_missing_credentials_are_one_line_exit_2(
    agent: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["reject", "4", "--url", agent.url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused the credentials (401)" in err and "PUE_AGENT_PASSWORD" in err
    monkeypatch.setenv("PUE_AGENT_PASSWORD", "wrong")
    assert main(["status", "--url", agent.url, "--user", "alice"]) == 2
    assert "(401)" in capsys.readouterr().err and agent.calls == []


def test_agent_not_running_is_one_line_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["approve", "4", "--url", url, "--as", "bob"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no agent answers at {url} (connection refused)" in err


def test_reject_and_status(agent: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUE_AGENT_USER", "alice")
    monkeypatch.setenv("PUE_AGENT_PASSWORD", "s3cret")
    assert main(["reject", "4", "--url", agent.url]) == 0
    assert capsys.readouterr().out == "recommendation 4 rejected by alice\n"
    assert main(["status", "--url", agent.url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "hall-1: PUE 1.412 (realtime, valid)" and out[1] == "devices: 21 up, 1 down"
    assert "predicted saving 21.5 kW, confidence 93 %" in out[3] and "pue-agent approve 4" in out[4]


def test_bad_id_and_bad_url_are_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["approve", "one"])
    assert exc.value.code == 2 and "not a recommendation id" in capsys.readouterr().err
    assert main(["status", "--url", "ftp://x"]) == 2


def test_the_url_comes_from_the_config(agent: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = int(agent.url.rsplit(":", 1)[1])
    config = tmp_path / "site.yaml"
    demo = (Path(__file__).resolve().parents[2] / "configs" / "demo-site.yaml").read_text()
    assert "  address: 127.0.0.1\n  port: 10330\n" in demo
    config.write_text(demo.replace("  address: 127.0.0.1\n  port: 10330\n", f"  address: 0.0.0.0\n  port: {port}\n"))
    assert main(["status", "--config", str(config)]) == 2  # it found the agent: 401, not "no agent answers"
    assert "(401)" in capsys.readouterr().err


def test_the_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, agent.app.approve_cli; heavy = [m for m in ('urllib.request', 'ssl', 'agent.config.site', "
        "'pydantic', 'sklearn') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_plain_server_without_recommender_says_how_to_enable_it(capsys: pytest.CaptureFixture[str]) -> None:
    server = HttpServer(CollectorRegistry(), ApiHandlers())
    host, port = server.start("127.0.0.1", free_port())
    try:
        assert main(["approve", "1", "--url", f"http://{host}:{port}", "--as", "bob"]) == 1
    finally:
        server.stop()
    assert "the recommender is not enabled (set recommender.mode: approve" in capsys.readouterr().err


def test_a_broken_config_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("listen: {port: 1}\n")
    assert main(["status", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "topology" in err
