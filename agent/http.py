"""The agent's HTTP endpoint: ``/metrics`` (Prometheus exposition) and a small JSON API.

- ``GET /metrics``: the agent's collectors (prometheus-client's WSGI app);
- ``GET /api/v1/recommendation``: the latest recommendation, with model version, confidence and
  the reason when held back;
- ``POST /api/v1/recommendation/approve`` ``{"id": N, "approved_by": "name"}``: approve a pending
  recommendation (mode ``approve``); audited;
- ``GET /api/v1/actions``: the setpoint action log (newest last).

The server binds to 127.0.0.1 by default. It never accepts SNMP targets over HTTP (an exporter that
does lets anyone make it probe arbitrary hosts and leak communities).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.registry import CollectorRegistry

__all__ = ["ApiHandlers", "HttpServer"]

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ApiHandlers:
    """What the JSON API serves; the recommender sets these callables (thread-safe by contract)."""

    def __init__(self) -> None:
        self.recommendation: Callable[[], dict[str, Any]] | None = None
        self.approve: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.actions: Callable[[], list[dict[str, Any]]] | None = None


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


def _json(start_response: StartResponse, status: str, body: Any) -> list[bytes]:
    data = json.dumps(body, indent=2, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class HttpServer:
    """One threaded WSGI server for metrics and the API; ``wrap`` adds auth (see agent.security)."""

    def __init__(self, registry: CollectorRegistry, api: ApiHandlers,
                 wrap: Callable[[WsgiApp], WsgiApp] | None = None) -> None:
        self._metrics = make_wsgi_app(registry)
        self.api = api
        app: WsgiApp = self._route
        self._app = wrap(app) if wrap is not None else app
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics":
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/":
            body = b"pue-agent: /metrics, /api/v1/recommendation, /api/v1/actions\n"
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/api/v1/recommendation" and method == "GET":
            if self.api.recommendation is None:
                return _json(start_response, "404 Not Found", {"error": "the recommender is not enabled"})
            return _json(start_response, "200 OK", self.api.recommendation())
        if path == "/api/v1/actions" and method == "GET":
            return _json(start_response, "200 OK", self.api.actions() if self.api.actions else [])
        if path == "/api/v1/recommendation/approve" and method == "POST":
            if self.api.approve is None:
                return _json(start_response, "404 Not Found", {"error": "the recommender is not enabled"})
            try:
                size = int(environ.get("CONTENT_LENGTH") or 0)
                payload = json.loads(environ["wsgi.input"].read(min(size, 65536)) or b"{}")
                if not isinstance(payload, dict):
                    raise ValueError("body must be a JSON object")
            except (ValueError, json.JSONDecodeError) as err:
                return _json(start_response, "400 Bad Request", {"error": f"bad request body: {err}"})
            result = self.api.approve(payload)
            status = "200 OK" if result.get("ok") else "409 Conflict"
            return _json(start_response, status, result)
        return _json(start_response, "404 Not Found", {"error": f"no route {method} {path}"})

    def start(self, address: str, port: int) -> tuple[str, int]:
        server = make_server(address, port, self._app, _ThreadingServer, handler_class=_QuietHandler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="pue-agent-http", daemon=True)
        self._thread.start()
        host, bound = server.server_address[:2]
        return str(host), int(bound)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
