"""``pue-agent approve ID``, ``reject ID`` and ``status``: talk to the running agent's API over HTTP(S).

Where the agent is: ``--url``, else the config's ``listen`` address and port (``--config``, https when it
has ``web.tls_server_config``), else http://127.0.0.1:10330. Credentials for basic auth: ``--user`` (or
``PUE_AGENT_USER``) and the password from ``PUE_AGENT_PASSWORD``, else asked on the terminal; the config
holds only bcrypt hashes. ``--cacert`` names the CA that signed the agent's certificate. Behind basic auth
the agent records the authenticated user as who approved or rejected; without it, ``--as NAME`` (default:
your login name).

Exit status: 0 done, 1 the agent is not reachable or refused the decision (409: no such pending id,
expired, unsafe now), 2 bad input (arguments, config, credentials refused with 401).

Imports stay light: the config, ``urllib`` and ``ssl`` load only when a command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

__all__ = ["AgentClient", "AgentUnreachable", "register"]

DEFAULT_URL = "http://127.0.0.1:10330"


class AgentUnreachable(Exception):
    """No answer from the agent (refused, timed out, TLS failed): the message is one line for the operator."""


class AgentClient:
    """A minimal client of the agent's JSON API (stdlib ``urllib``)."""

    def __init__(
        self,
        url: str,
        user: str | None = None,
        password: str | None = None,
        cacert: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._auth: str | None = None
        if user is not None:
            import base64

            self._auth = "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        self._cacert = cacert
        self._timeout_s = float(timeout_s)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """(HTTP status, decoded JSON body or text) for one request; :class:`AgentUnreachable` without an answer."""
        import ssl
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self._auth is not None:
            req.add_header("Authorization", self._auth)
        context = None
        if self.url.startswith("https://"):
            context = ssl.create_default_context(cafile=self._cacert)
        try:
            with urllib.request.urlopen(req, timeout=self._timeout_s, context=context) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _decode(err.read())
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise AgentUnreachable(
                    f"{self.url}: the agent's TLS certificate is not trusted ({reason.verify_message}); "
                    "give --cacert FILE with the CA that signed it"
                ) from None
            if isinstance(reason, ConnectionRefusedError):
                raise AgentUnreachable(
                    f"no agent answers at {self.url} (connection refused): is `pue-agent run` running? "
                    "Check listen in its config, or give --url"
                ) from None
            raise AgentUnreachable(f"no agent answers at {self.url}: {reason}") from None
        except (TimeoutError, OSError) as err:
            raise AgentUnreachable(f"no answer from {self.url} within {self._timeout_s:g} s: {err}") from None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()


def _url(args: argparse.Namespace) -> str:
    if args.url:
        if not args.url.startswith(("http://", "https://")):
            raise _BadInput(f"--url must be an http:// or https:// URL, got {args.url!r}")
        return str(args.url)
    if not args.config:
        return DEFAULT_URL
    from pathlib import Path

    from agent.config.site import load_config
    from agent.errors import ConfigError

    try:
        cfg, _profiles = load_config(Path(args.config))
    except ConfigError as err:
        raise _BadInput("; ".join(err.problems)) from None
    host = cfg.listen.address
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # a wildcard listener answers on loopback
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if cfg.web is not None and cfg.web.tls_server_config is not None else "http"
    return f"{scheme}://{host}:{cfg.listen.port}"


class _BadInput(Exception):
    pass


def _client(args: argparse.Namespace) -> AgentClient:
    url = _url(args)
    user = args.user or os.environ.get("PUE_AGENT_USER") or None
    password = os.environ.get("PUE_AGENT_PASSWORD")
    if user is not None and password is None:
        if not sys.stdin.isatty():
            raise _BadInput(f"--user {user}: set PUE_AGENT_PASSWORD (no terminal to ask for the password)")
        import getpass

        password = getpass.getpass(f"password for {user} at {url}: ")
    return AgentClient(url, user, password, args.cacert, args.timeout)


def _refused(client: AgentClient, status: int, body: Any) -> str | None:
    """The one-line reason for a status other than 200, or None for 200."""
    if status == 200:
        return None
    text = body.get("error") if isinstance(body, dict) else None
    text = text or (body if isinstance(body, str) and body else f"HTTP {status}")
    if status == 401:
        return (
            f"{client.url} refused the credentials (401): give --user and set PUE_AGENT_PASSWORD to a user of "
            "its web.basic_auth_users"
        )
    if status == 404 and "not enabled" in str(text):
        return f"{client.url}: {text} (set recommender.mode: approve in the agent's config)"
    return str(text)


def _decide(args: argparse.Namespace, action: str) -> int:
    client = _client(args)
    who = args.as_name or _login_name()
    key = "approved_by" if action == "approve" else "rejected_by"
    status, body = client.request("POST", f"/api/v1/recommendation/{action}", {"id": args.id, key: who})
    problem = _refused(client, status, body)
    if problem is not None:
        print(f"pue-agent {action}: {problem}", file=sys.stderr)
        return 2 if status in (400, 401) else 1
    if action == "reject":
        print(f"recommendation {args.id} rejected by {body.get('rejected_by', who)}")
        return 0
    actions = body.get("actions", [])
    ok = [a for a in actions if a.get("result") == "ok"]
    print(f"recommendation {args.id} approved: {len(ok)} of {len(actions)} setpoint writes done and read back")
    for line in _summarise(actions):
        print(f"  {line}")
    return 0


def _summarise(actions: list[dict[str, Any]]) -> list[str]:
    """One line per (setpoint, before, after, result), with the devices counted."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for a in actions:
        key = (a.get("quantity"), a.get("before"), a.get("after"), a.get("result"), a.get("error"))
        groups.setdefault(key, []).append(str(a.get("device")))
    lines = []
    for (quantity, before, after, result, error), devices in groups.items():
        where = devices[0] if len(devices) == 1 else f"{len(devices)} devices ({', '.join(devices)})"
        line = f"{quantity}: {before} -> {after} on {where}: {result}"
        lines.append(line + (f" ({error})" if error else ""))
    return lines


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return f"uid {os.getuid()}"


def _status(args: argparse.Namespace) -> int:
    client = _client(args)
    status, body = client.request("GET", "/api/v1/status")
    problem = _refused(client, status, body)
    if problem is not None:
        print(f"pue-agent status: {problem}", file=sys.stderr)
        return 2 if status in (400, 401) else 1
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    for line in status_lines(body):
        print(line)
    return 0


def status_lines(status: dict[str, Any]) -> list[str]:
    """The status document as a few lines for a terminal."""
    pue = status.get("pue") or {}
    if pue.get("valid"):
        pue_line = f"PUE {pue['realtime']:.3f} (realtime, valid)"
    else:
        pue_line = f"PUE not valid: {pue.get('reason') or 'unknown'}"
    lines = [
        f"{status.get('site', 'site')}: {pue_line}",
        f"devices: {status.get('devices_up', 0)} up, {status.get('devices_down', 0)} down",
    ]
    lines += [
        f"  down: {d['name']} ({d.get('role')}): {d.get('problem')}" for d in status.get("devices", []) if not d["up"]
    ]
    rec = status.get("recommendation")
    if rec is None:
        lines.append("recommendation: recommender off")
    elif rec.get("held_back_reason"):
        lines.append(f"recommendation ({rec.get('mode')}): held back: {rec['held_back_reason']}")
    elif rec.get("setpoints") == rec.get("current"):
        lines.append(f"recommendation ({rec.get('mode')}): no change")
    else:
        sp = rec.get("setpoints") or {}
        target = (
            f"supply air {sp.get('supply_air_setpoint_c'):g} C, chilled water {sp.get('chw_supply_setpoint_c'):g} C, "
            f"economizer {'on' if sp.get('economizer_enabled') else 'off'}"
        )
        saving = (rec.get("predicted_savings_w") or 0.0) / 1000
        lines.append(
            f"recommendation ({rec.get('mode')}): {target}; predicted saving {saving:.1f} kW, "
            f"confidence {100 * (rec.get('confidence') or 0):.0f} %"
        )
        if rec.get("pending_id") is not None:
            lines.append(f"  pending id {rec['pending_id']}: `pue-agent approve {rec['pending_id']}` or reject it")
    actions = status.get("actions") or []
    if actions:
        last = actions[-1]
        lines.append(
            f"last action: {last.get('kind')} {last.get('device')} {last.get('quantity')} {last.get('before')} -> "
            f"{last.get('after')}: {last.get('result')}"
        )
    return lines


def _run(handler: Any) -> Any:
    def command(args: argparse.Namespace) -> int:
        try:
            return int(handler(args))
        except _BadInput as err:
            print(f"pue-agent {args.command}: {err}", file=sys.stderr)
            return 2
        except AgentUnreachable as err:
            print(f"pue-agent {args.command}: {err}", file=sys.stderr)
            return 1

    return command


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="the agent's site config (its listen address, port and TLS)")
    p.add_argument("--url", help=f"the agent's address (default: from --config, else {DEFAULT_URL})")
    p.add_argument("--user", help="basic-auth user (or PUE_AGENT_USER); password from PUE_AGENT_PASSWORD or asked")
    p.add_argument("--cacert", metavar="FILE", help="CA certificate that signed the agent's TLS certificate")
    p.add_argument("--timeout", type=float, default=70.0, help="seconds to wait for the agent (default 70)")


def _rec_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"not a recommendation id (the pending_id, a whole number): {text!r}")
    return int(text)


def register(sub: Any) -> None:
    for action, help_text in (
        ("approve", "approve the pending recommendation ID on the running agent (approve mode): it writes it"),
        ("reject", "reject the pending recommendation ID: withdrawn, not offered again for pending_expiry_s"),
    ):
        p = sub.add_parser(action, help=help_text)
        p.add_argument("id", type=_rec_id, help="the pending_id (`pue-agent status` or the agent's web page)")
        p.add_argument("--as", dest="as_name", default=None, help="who decides, when the agent has no basic auth")
        _common(p)
        p.set_defaults(func=_run(lambda args, a=action: _decide(args, a)))
    p = sub.add_parser("status", help="the running agent: PUE, devices up/down, recommendation, last action")
    p.add_argument("--json", action="store_true", help="print the status document as JSON")
    _common(p)
    p.set_defaults(func=_run(_status))
