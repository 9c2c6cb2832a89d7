"""The operator's page: what it shows, and that only its own form posts decide (CSRF), as the basic-auth user."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import bcrypt
from prometheus_client.registry import CollectorRegistry

from agent.app.http import ApiHandlers
from agent.app.security import make_http_server
from agent.app.web_page import WebPage
from agent.config.web import WebConfig

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port

PENDING = {
    "mode": "approve",
    "inlet_limit_c": 27.0,
    "max_inlet_c": 23.0,
    "setpoints": {"supply_air_setpoint_c": 19.0, "chw_supply_setpoint_c": 8.0, "economizer_enabled": True},
    "current": {"supply_air_setpoint_c": 18.0, "chw_supply_setpoint_c": 7.0, "economizer_enabled": False},
    "predicted_facility_power_now_w": 1_300_000.0,
    "predicted_facility_power_w": 1_250_000.0,
    "predicted_pue_now": 1.41,
    "predicted_pue": 1.36,
    "predicted_max_inlet_c": 24.5,
    "predicted_savings_w": 50_000.0,
    "confidence": 0.97,
    "model_version": "abc",
    "held_back_reason": None,
    "pending_id": 7,
    "pending_expires_s": 1e12,
}


class Decisions:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def approve(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("approve", payload))
        return {"ok": True, "actions": [{"result": "ok"}, {"result": "ok"}]}

    def reject(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("reject", payload))
        return {"ok": True, "rejected_by": payload["rejected_by"]}


def _api(rec: dict[str, Any]) -> tuple[ApiHandlers, Decisions]:
    api, decisions = ApiHandlers(), Decisions()
    api.recommendation = lambda: rec
    api.actions = lambda: []
    api.approve = decisions.approve
    api.reject = decisions.reject
    return api, decisions


def _call(page: WebPage, method: str, path: str, body: bytes = b"", **env: str) -> tuple[str, dict[str, str], str]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_HOST": "127.0.0.1:10330",
        "wsgi.input": io.BytesIO(body),
        **env,
    }
    out = b"".join(page(environ, start_response)).decode()
    return seen["status"], seen["headers"], out


def test_the_page_shows_the_pending_recommendation_with_both_buttons_and_forbids_framing_and_scripts() -> None:
    page = WebPage(_api(PENDING)[0])
    status, headers, html = _call(page, "GET", "/", REMOTE_USER="alice")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and "script" not in html.lower()
    assert "Recommendation <b>7</b> waits for approval" in html and "50.0 kW" in html and "97 %" in html
    assert "supply air 19 C, chilled water 8 C, economizer on" in html
    assert html.count("<form method='post'") == 2 and "id='approve'" in html and "id='reject'" in html
    assert f"value='{page.csrf_token('alice')}'" in html


def test_text_from_the_agent_is_escaped() -> None:
    held = {"mode": "approve", "held_back_reason": "<script>alert(1)</script> & more"}
    _, _, html = _call(WebPage(_api(held)[0]), "GET", "/", REMOTE_USER="<b>eve</b>")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "&lt;b&gt;eve&lt;/b&gt;" in html


def test_a_post_without_the_pages_token_or_from_another_site_decides_nothing() -> None:
    api, decisions = _api(PENDING)
    page = WebPage(api)
    token = page.csrf_token("alice")
    assert _call(page, "POST", "/approve", b"id=7", REMOTE_USER="alice")[0] == "403 Forbidden"
    other_users = f"id=7&csrf={page.csrf_token('bob')}".encode()
    assert _call(page, "POST", "/approve", other_users, REMOTE_USER="alice")[0] == "403 Forbidden"
    good = f"id=7&csrf={token}".encode()
    assert _call(page, "POST", "/approve", good, REMOTE_USER="alice", HTTP_ORIGIN="https://evil.example")[0] == (
        "403 Forbidden"
    )
    assert _call(page, "POST", "/approve", good, REMOTE_USER="alice", HTTP_SEC_FETCH_SITE="cross-site")[0] == (
        "403 Forbidden"
    )
    assert _call(page, "POST", "/approve", good, REMOTE_USER="alice", CONTENT_TYPE="text/plain")[0].startswith("415")
    assert _call(page, "GET", "/approve", REMOTE_USER="alice")[0].startswith("405")
    assert decisions.calls == []
    # a different page instance (another agent, or a restart) has another key: its token is refused too
    assert _call(WebPage(api), "POST", "/approve", good, REMOTE_USER="alice")[0] == "403 Forbidden"


def test_the_basic_auth_user_decides_whatever_the_form_says_and_sees_the_outcome_once() -> None:
    api, decisions = _api(PENDING)
    page = WebPage(api)
    body = f"id=7&name=mallory&csrf={page.csrf_token('alice')}".encode()
    status, headers, _ = _call(
        page, "POST", "/approve", body, REMOTE_USER="alice", HTTP_ORIGIN="http://127.0.0.1:10330"
    )
    assert status == "303 See Other" and headers["Location"] == "/"
    assert decisions.calls == [("approve", {"id": 7, "approved_by": "alice"})]
    _, _, html = _call(page, "GET", "/", REMOTE_USER="alice")
    assert "Recommendation 7 approved: 2 of 2 setpoint writes done and read back." in html
    assert "id='note'" not in _call(page, "GET", "/", REMOTE_USER="alice")[2]  # once
    _call(page, "POST", "/reject", f"id=7&csrf={page.csrf_token('alice')}".encode(), REMOTE_USER="alice")
    assert decisions.calls[-1] == ("reject", {"id": 7, "rejected_by": "alice"})


def test_without_basic_auth_the_form_asks_for_a_name() -> None:
    api, decisions = _api(PENDING)
    page = WebPage(api)
    assert "name='name'" in _call(page, "GET", "/")[2]
    _call(page, "POST", "/approve", f"id=7&csrf={page.csrf_token('')}".encode())
    assert decisions.calls == [] and "give your name" in _call(page, "GET", "/")[2]
    _call(page, "POST", "/approve", f"id=7&name=Li+Wei&csrf={page.csrf_token('')}".encode())
    assert decisions.calls == [("approve", {"id": 7, "approved_by": "Li Wei"})]


def test_over_http_the_page_and_the_api_need_basic_auth_and_the_api_records_the_authenticated_user() -> None:
    import base64
    import json
    import urllib.error
    import urllib.request

    api, decisions = _api(PENDING)
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    server = make_http_server(CollectorRegistry(), api, WebConfig(basic_auth_users={"alice": hashed}))  # type: ignore[dict-item]
    host, port = server.start("127.0.0.1", free_port())
    try:
        url = f"http://{host}:{port}"
        try:
            urllib.request.urlopen(url + "/", timeout=10)
            raise AssertionError("the page answered without credentials")
        except urllib.error.HTTPError as err:
            assert err.code == 401
        auth = "Basic " + base64.b64encode(b"alice:pw").decode()
        with urllib.request.urlopen(
            urllib.request.Request(url + "/", headers={"Authorization": auth}), timeout=10
        ) as r:
            assert re.search(r"signed in as <b>alice</b>", r.read().decode())
        req = urllib.request.Request(
            url + "/api/v1/recommendation/approve",
            data=json.dumps({"id": 7, "approved_by": "mallory"}).encode(),
            method="POST",
            headers={"Authorization": auth, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        assert decisions.calls == [("approve", {"id": 7, "approved_by": "alice"})]
    finally:
        server.stop()
