"""The operator's page at the agent's address (``GET /``): server-rendered HTML, no script, one form per button.

It shows what :mod:`agent.app.status` returns (live PUE with its validity, devices up and down, the current
recommendation with its predicted saving, confidence and reasons, the last setpoint actions with reverts)
and, in ``approve`` mode, an **Approve** and a **Reject** button for the pending recommendation. The page is
served by :class:`agent.app.http.HttpServer` behind the same basic auth and TLS as the API; who approved or
rejected is the basic-auth user (with no users configured the form asks for a name).

Cross-site request forgery: a browser sends basic-auth credentials with any request to the origin, so a
form post counts only with a token that only this page carries (an HMAC of the user under a per-process
key, compared in constant time) and, when the browser says where it came from (``Origin``,
``Sec-Fetch-Site``), only from this origin. The page forbids framing and every script
(``Content-Security-Policy``). A post answers with ``303 See Other`` back to the page, which shows the
outcome once.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from agent.app.http import ApiHandlers, StartResponse

__all__ = ["WebPage"]

_SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]
#: the page reloads itself this often [s] (a meta refresh: no script)
REFRESH_S = 30

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:70em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left;border-bottom:1px solid #eee}
.big{font-size:2.2em;font-weight:bold}.ok{color:#176b2c}.bad{color:#a01818}.muted{color:#666}
.note{background:#fff6d6;padding:.5em;border:1px solid #e0c060}form{display:inline;margin-right:1em}
button{font-size:1em;padding:.3em 1.2em}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(epoch_s: float | None) -> str:
    if epoch_s is None:
        return "-"
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(value: object, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _row(*cells: object, css: str = "") -> str:
    return f"<tr{css}>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>"


def _setpoints(sp: dict[str, Any] | None) -> str:
    if not sp:
        return "-"
    economizer = "on" if sp.get("economizer_enabled") else "off"
    return (
        f"supply air {_num(sp.get('supply_air_setpoint_c'), 'g')} C, chilled water "
        f"{_num(sp.get('chw_supply_setpoint_c'), 'g')} C, economizer {economizer}"
    )


class WebPage:
    """WSGI app of the page and its two form targets (``/approve``, ``/reject``)."""

    PATHS = frozenset({"/", "/approve", "/reject"})

    def __init__(self, api: ApiHandlers, clock: Any = time.time) -> None:
        self._api = api
        self._clock = clock
        self._key = secrets.token_bytes(32)
        #: the outcome of each user's last post, shown once on their next page
        self._notes: dict[str, str] = {}
        self._lock = threading.Lock()

    def csrf_token(self, user: str) -> str:
        return hmac.new(self._key, b"pue-agent page\0" + user.encode(), hashlib.sha256).hexdigest()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        user = str(environ.get("REMOTE_USER") or "")
        if path == "/" and method in ("GET", "HEAD"):
            with self._lock:
                note = self._notes.pop(user, None)
            body = self.render(user, note).encode()
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
            start_response("200 OK", headers + _SECURITY_HEADERS)
            return [] if method == "HEAD" else [body]
        if path in ("/approve", "/reject") and method == "POST":
            return self._post(path.lstrip("/"), environ, user, start_response)
        return self._plain(start_response, "405 Method Not Allowed", f"{method} {path} is not allowed here")

    @staticmethod
    def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
        body = (text + "\n").encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _same_origin(environ: dict[str, Any]) -> bool:
        """False when the browser says the post came from another site (``Origin``, ``Sec-Fetch-Site``)."""
        fetch_site = str(environ.get("HTTP_SEC_FETCH_SITE", "")).lower()
        if fetch_site and fetch_site not in ("same-origin", "none"):
            return False
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return True
        host = str(environ.get("HTTP_HOST", "")).lower()
        return bool(host) and urlsplit(str(origin)).netloc.lower() == host

    def _post(self, action: str, environ: dict[str, Any], user: str, start_response: StartResponse) -> list[bytes]:
        if not self._same_origin(environ):
            return self._plain(start_response, "403 Forbidden", "cross-site form post refused")
        if not str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
            return self._plain(start_response, "415 Unsupported Media Type", "expected a form post")
        length = str(environ.get("CONTENT_LENGTH") or "0")
        raw = environ["wsgi.input"].read(int(length)) if length.isascii() and length.isdigit() else b""
        try:
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), strict_parsing=False).items()}
        except UnicodeDecodeError:
            return self._plain(start_response, "400 Bad Request", "the form is not UTF-8")
        if not hmac.compare_digest(form.get("csrf", ""), self.csrf_token(user)):
            return self._plain(start_response, "403 Forbidden", "stale or missing form token: reload the page")
        who = user or form.get("name", "").strip()
        rec_id = form.get("id", "")
        decide = self._api.approve if action == "approve" else self._api.reject
        if decide is None:
            note = "the recommender is not enabled"
        elif not who:
            note = f"not {action}d: give your name (the log names who decided)"
        elif not (rec_id.isascii() and rec_id.isdigit()):
            note = f"not {action}d: no recommendation id in the form"
        else:
            key = "approved_by" if action == "approve" else "rejected_by"
            result = decide({"id": int(rec_id), key: who})
            note = self._outcome(action, int(rec_id), result)
        with self._lock:
            self._notes[user] = note
        start_response("303 See Other", [("Location", "/"), ("Content-Length", "0"), *_SECURITY_HEADERS])
        return []

    @staticmethod
    def _outcome(action: str, rec_id: int, result: dict[str, Any]) -> str:
        if not result.get("ok"):
            return f"Recommendation {rec_id} not {action}d: {result.get('error', 'refused')}"
        if action == "reject":
            return f"Recommendation {rec_id} rejected by {result.get('rejected_by')}."
        writes = result.get("actions", [])
        done = sum(1 for a in writes if a.get("result") == "ok")
        return f"Recommendation {rec_id} approved: {done} of {len(writes)} setpoint writes done and read back."

    # --- rendering -------------------------------------------------------------------------------------------
    def _status(self) -> dict[str, Any]:
        if self._api.status is not None:
            return self._api.status()
        return {
            "recommendation": self._api.recommendation() if self._api.recommendation else None,
            "actions": (self._api.actions() if self._api.actions else [])[-10:],
        }

    def render(self, user: str, note: str | None = None) -> str:
        status = self._status()
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<meta http-equiv='refresh' content='{REFRESH_S}'>",
            f"<title>pue-agent: {_e(status.get('site', ''))}</title><style>{_STYLE}</style></head><body>",
            f"<h1>pue-agent {_e(status.get('version', ''))}: site {_e(status.get('site', '-'))}</h1>",
            f"<p class='muted'>{_e(_when(status.get('time_s')))}"
            + (f"; signed in as <b>{_e(user)}</b>" if user else "")
            + "</p>",
        ]
        if note:
            parts.append(f"<p class='note' id='note'>{_e(note)}</p>")
        parts += self._pue(status.get("pue"))
        parts += self._devices(status.get("devices"))
        parts += self._recommendation(status.get("recommendation"), user)
        parts += self._actions(status.get("actions") or [])
        parts.append("</body></html>")
        return "\n".join(parts)

    @staticmethod
    def _pue(pue: dict[str, Any] | None) -> list[str]:
        if pue is None:
            return []
        out = ["<h2>PUE</h2>"]
        if pue.get("valid"):
            out.append(f"<p><span class='big ok' id='pue'>{_num(pue.get('realtime'), '.3f')}</span> realtime, valid")
        else:
            out.append(f"<p><span class='big bad' id='pue'>-</span> not valid: {_e(pue.get('reason') or 'unknown')}")
        if pue.get("interval_valid"):
            out.append(f"; interval PUE {_num(pue.get('interval'), '.3f')}")
        elif pue.get("interval_reason"):
            out.append(f"; interval PUE withheld: {_e(pue.get('interval_reason'))}")
        out.append(f" <span class='muted'>(site tick {_num(pue.get('age_s'), '.0f')} s ago)</span></p>")
        return out

    @staticmethod
    def _devices(devices: list[dict[str, Any]] | None) -> list[str]:
        if devices is None:
            return []
        down = [d for d in devices if not d.get("up")]
        out = [
            "<h2>Devices</h2>",
            f"<p id='devices'><span class='ok'>{len(devices) - len(down)} up</span>, "
            f"<span class='{'bad' if down else 'muted'}'>{len(down)} down</span></p>",
        ]
        if down:
            out.append("<table><tr><th>down</th><th>role</th><th>why</th></tr>")
            out += [_row(d["name"], d.get("role", ""), d.get("problem") or "") for d in down]
            out.append("</table>")
        return out

    def _recommendation(self, rec: dict[str, Any] | None, user: str) -> list[str]:
        out = ["<h2>Recommendation</h2>"]
        if rec is None:
            return [*out, "<p class='muted'>The recommender is not enabled (recommender.mode is off).</p>"]
        out.append(
            f"<p>Mode <b>{_e(rec.get('mode'))}</b>; hottest rack inlet now {_num(rec.get('max_inlet_c'), '.1f')} C "
            f"(limit {_num(rec.get('inlet_limit_c'), 'g')} C).</p>"
        )
        exploration = rec.get("exploration")
        if isinstance(exploration, dict):
            out.append(
                f"<p id='exploration'>Exploration ({_e(exploration.get('mode'))}): "
                f"<b>{_e(exploration.get('state'))}</b>; {_e(exploration.get('steps_done', 0))} of "
                f"{_e(exploration.get('lattice_points', '-'))} lattice points "
                f"explored, the model's support covers {100 * (exploration.get('support_fraction') or 0):.0f} %. "
                f"{_e(exploration.get('reason'))}</p>"
            )
        if rec.get("reason"):
            out.append(f"<p id='exploration-step'>This change is an exploration step: {_e(rec['reason'])}</p>")
        if rec.get("held_back_reason"):
            return [*out, f"<p id='held-back'>Held back: {_e(rec['held_back_reason'])}</p>"]
        if rec.get("setpoints") == rec.get("current"):
            return [*out, "<p id='no-change'>The current setpoints are the best the model finds: no change.</p>"]
        saving_w = rec.get("predicted_savings_w") or 0.0
        power_w = rec.get("predicted_facility_power_now_w")
        share = f" ({100 * saving_w / power_w:.1f} % of facility power)" if power_w else ""
        out += [
            "<table id='recommendation'>",
            f"<tr><th>now</th><td>{_e(_setpoints(rec.get('current')))}</td></tr>",
            f"<tr><th>recommended</th><td><b>{_e(_setpoints(rec.get('setpoints')))}</b></td></tr>",
            f"<tr><th>predicted saving</th><td id='saving'>{saving_w / 1000:.1f} kW{share}</td></tr>",
            f"<tr><th>confidence</th><td>{100 * (rec.get('confidence') or 0):.0f} %</td></tr>",
            f"<tr><th>model</th><td>{_e(rec.get('model_version', '-'))}</td></tr>",
            "</table>",
            "<p>Why: the model predicts facility power "
            f"{_num((power_w or 0) / 1000, '.1f')} kW now and "
            f"{_num((rec.get('predicted_facility_power_w') or 0) / 1000, '.1f')} kW at the recommended setpoints "
            f"(PUE {_num(rec.get('predicted_pue_now'), '.3f')} to {_num(rec.get('predicted_pue'), '.3f')}), "
            f"with the hottest inlet at {_num(rec.get('predicted_max_inlet_c'), '.1f')} C, within the "
            f"{_num(rec.get('inlet_limit_c'), 'g')} C limit with its uncertainty margin; confidence is the probability "
            "that the saving is real under the model's calibrated uncertainty.</p>",
        ]
        pending = rec.get("pending_id")
        if pending is None:
            if rec.get("mode") == "approve":
                out.append("<p class='muted'>Nothing waits for approval.</p>")
            return out
        expires = rec.get("pending_expires_s")
        left = f", expires in {expires - self._clock():.0f} s" if isinstance(expires, int | float) else ""
        token = self.csrf_token(user)
        name = "" if user else "<input name='name' placeholder='your name' required> "
        out.append(f"<p id='pending'>Recommendation <b>{_e(pending)}</b> waits for approval{_e(left)}.</p><p>")
        for action, label in (("approve", "Approve"), ("reject", "Reject")):
            out.append(
                f"<form method='post' action='/{action}'><input type='hidden' name='csrf' value='{_e(token)}'>"
                f"<input type='hidden' name='id' value='{_e(pending)}'>{name}"
                f"<button type='submit' id='{action}'>{label}</button></form>"
            )
        out.append("</p>")
        return out

    @staticmethod
    def _actions(actions: list[dict[str, Any]]) -> list[str]:
        out = ["<h2>Last actions</h2>"]
        if not actions:
            return [*out, "<p class='muted' id='actions'>No setpoint written yet.</p>"]
        out.append(
            "<table id='actions'><tr><th>when</th><th>kind</th><th>device</th><th>setpoint</th><th>before</th>"
            "<th>after</th><th>result</th><th>approved by</th><th>why</th></tr>"
        )
        for a in reversed(actions):
            kind = a.get("kind", "")
            css = " class='bad'" if kind in ("revert", "restore") or a.get("result") != "ok" else ""
            cells = (_when(a.get("timestamp_s")), kind, a.get("device"), a.get("quantity"))
            values = (_num(a.get("before"), "g"), _num(a.get("after"), "g"))
            out.append(_row(*cells, *values, a.get("result"), a.get("approved_by") or "", a.get("reason"), css=css))
        out.append("</table>")
        return out
