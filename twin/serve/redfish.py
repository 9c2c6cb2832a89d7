"""Simulated server BMCs over Redfish: a small HTTPS server per BMC, DMTF-shaped JSON from the twin's IT load.

Each :class:`SimulatedBmc` answers the resources a power-reading client walks (DSP0266 1.19, schemas of
DSP8010 2023.3): the service root, the ``Chassis`` collection, one chassis linking ``Power`` (PowerControl
PowerConsumedWatts), ``EnvironmentMetrics`` (PowerWatts and EnergykWh readings) and ``PowerSubsystem`` (two
power supplies, each with ``Metrics`` InputPowerWatts: half the server's power); with HTTP basic auth or a
session (POST ``SessionService/Sessions`` -> ``X-Auth-Token``, DELETE to log out).
Its power and energy are written by the twin from canonical values (``publish``), as the SNMP and Modbus
devices' are.

Faults a test sets on a BMC (``fault``): ``401`` (the account is refused), ``404`` (no power resources),
``500`` (an internal error with a Redfish error body), ``malformed`` (a body that is not JSON), ``missing``
(PowerConsumedWatts and PowerWatts absent), ``null`` (they are null), ``slow`` (answers after ``slow_s``).

The BMCs' certificate comes from :func:`twin.serve.pki.make_test_pki` (a throw-away CA made at run time).
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.devices.profiles import Profile
from twin.serve.pki import BmcTls

__all__ = ["RedfishProfiledDevice", "SimulatedBmc"]

ROOT = "/redfish/v1"
CHASSIS = f"{ROOT}/Chassis/1"
SESSIONS = f"{ROOT}/SessionService/Sessions"
#: the power supplies' Ids: each draws half the server's input power
PSUS = ("PSU1", "PSU2")


def _error_body(code: str, message: str) -> dict[str, Any]:
    """A Redfish error response (DSP0266 section 9.6): ``error.code``, ``error.message``."""
    return {"error": {"code": f"Base.1.16.{code}", "message": message}}


class SimulatedBmc:
    """One server's BMC: its resources, accounts and sessions, served by :meth:`start` on (host, port)."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        tls: BmcTls,
        *,
        legacy_power: bool = True,
        environment: bool = True,
        energy: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.user, self._password = user, password
        self.tls = tls
        self.legacy_power, self.environment, self.energy = legacy_power, environment, energy
        self.power_w = 0.0
        self.energy_kwh = 0.0
        self.fault: str | None = None
        self.slow_s = 5.0
        #: token -> session id; requests counted by method (tests count logins and logouts)
        self.sessions: dict[str, str] = {}
        self.requests: dict[str, int] = {}
        self.logins = self.logouts = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # --- the resources -----------------------------------------------------------------------------
    def resource(self, path: str) -> dict[str, Any] | None:
        """The JSON body of ``path``, or None (404)."""
        path = path.rstrip("/") or "/"
        if path == ROOT:
            return {
                "@odata.id": ROOT,
                "@odata.type": "#ServiceRoot.v1_16_0.ServiceRoot",
                "Id": "RootService",
                "RedfishVersion": "1.19.0",
                "Chassis": {"@odata.id": f"{ROOT}/Chassis"},
                "SessionService": {"@odata.id": f"{ROOT}/SessionService"},
                "Links": {"Sessions": {"@odata.id": SESSIONS}},
            }
        if path == f"{ROOT}/Chassis":
            return {
                "@odata.id": path,
                "@odata.type": "#ChassisCollection.ChassisCollection",
                "Members": [{"@odata.id": CHASSIS}],
                "Members@odata.count": 1,
            }
        no_power = self.fault == "404"
        if path == CHASSIS:
            body: dict[str, Any] = {
                "@odata.id": CHASSIS,
                "@odata.type": "#Chassis.v1_23_0.Chassis",
                "Id": "1",
                "ChassisType": "RackMount",
                "PowerState": "On",
                "PowerSubsystem": {"@odata.id": f"{CHASSIS}/PowerSubsystem"},
            }
            if self.legacy_power:
                body["Power"] = {"@odata.id": f"{CHASSIS}/Power"}
            if self.environment:
                body["EnvironmentMetrics"] = {"@odata.id": f"{CHASSIS}/EnvironmentMetrics"}
            return body
        reading: float | None = None if self.fault == "null" else round(self.power_w, 1)
        if path == f"{CHASSIS}/Power" and self.legacy_power and not no_power:
            control: dict[str, Any] = {"@odata.id": f"{CHASSIS}/Power#/PowerControl/0", "MemberId": "0"}
            if self.fault != "missing":
                control["PowerConsumedWatts"] = reading
            control["PowerCapacityWatts"] = 2000
            return {"@odata.id": path, "@odata.type": "#Power.v1_7_2.Power", "Id": "Power", "PowerControl": [control]}
        if path == f"{CHASSIS}/EnvironmentMetrics" and self.environment and not no_power:
            env: dict[str, Any] = {"@odata.id": path, "@odata.type": "#EnvironmentMetrics.v1_3_2.EnvironmentMetrics"}
            if self.fault != "missing":
                env["PowerWatts"] = {"Reading": reading, "DataSourceUri": f"{CHASSIS}/Sensors/TotalPower"}
            if self.energy:
                env["EnergykWh"] = {"Reading": round(self.energy_kwh, 6)}  # Wh and below: no step in the tests
            return env
        if path == f"{CHASSIS}/PowerSubsystem" and not no_power:
            return {
                "@odata.id": path,
                "@odata.type": "#PowerSubsystem.v1_1_1.PowerSubsystem",
                "CapacityWatts": 2000,
                "PowerSupplies": {"@odata.id": f"{path}/PowerSupplies"},
            }
        supplies = f"{CHASSIS}/PowerSubsystem/PowerSupplies"
        if path == supplies and not no_power:
            return {
                "@odata.id": path,
                "@odata.type": "#PowerSupplyCollection.PowerSupplyCollection",
                "Members": [{"@odata.id": f"{supplies}/{psu}"} for psu in PSUS],
                "Members@odata.count": len(PSUS),
            }
        for psu in PSUS if not no_power else ():
            if path == f"{supplies}/{psu}":
                return {
                    "@odata.id": path,
                    "@odata.type": "#PowerSupply.v1_5_1.PowerSupply",
                    "Id": psu,
                    "PowerCapacityWatts": 1100,
                    "Metrics": {"@odata.id": f"{path}/Metrics"},
                }
            if path == f"{supplies}/{psu}/Metrics":
                metrics: dict[str, Any] = {
                    "@odata.id": path,
                    "@odata.type": "#PowerSupplyMetrics.v1_1_0.PowerSupplyMetrics",
                }
                if self.fault != "missing":
                    share = None if reading is None else round(reading / len(PSUS), 2)
                    metrics["InputPowerWatts"] = {"Reading": share}
                return metrics
        return None

    def _authorised(self, headers: Any) -> bool:
        if self.fault == "401":
            return False
        token = headers.get("X-Auth-Token")
        if token is not None:
            with self._lock:
                return token in self.sessions
        auth = headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.user) and secrets.compare_digest(password, self._password)

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One request's status, headers and body (the HTTP handler calls this; ``headers``: case-insensitive)."""
        with self._lock:
            self.requests[method] = self.requests.get(method, 0) + 1
        if self.fault == "slow":
            self._stopping.wait(self.slow_s)
        path = path.split("?")[0]
        if method == "POST" and path == SESSIONS:
            return self._login(body)
        if path.rstrip("/") != ROOT and not self._authorised(headers):
            return 401, {"WWW-Authenticate": 'Basic realm="BMC"'}, _json(_error_body("InsufficientPrivilege", "no"))
        if method == "DELETE" and path.startswith(SESSIONS + "/"):
            with self._lock:
                gone = [t for t, sid in self.sessions.items() if path == f"{SESSIONS}/{sid}"]
                for token in gone:
                    del self.sessions[token]
                self.logouts += len(gone)
            return (204, {}, b"") if gone else (404, {}, _json(_error_body("ResourceMissingAtURI", path)))
        if method != "GET":
            return 405, {}, _json(_error_body("ActionNotSupported", method))
        if self.fault == "500" and path.rstrip("/") != ROOT:
            return 500, {}, _json(_error_body("InternalError", "The request failed due to an internal service error."))
        if self.fault == "malformed" and path.rstrip("/") != ROOT:
            return 200, {}, b'{"@odata.id": "' + path.encode() + b'", "PowerControl": [{'
        found = self.resource(path)
        if found is None:
            return 404, {}, _json(_error_body("ResourceMissingAtURI", f"The resource at {path} was not found."))
        return 200, {}, _json(found)

    def _login(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            account = json.loads(body)
            user, password = str(account["UserName"]), str(account["Password"])
        except (ValueError, KeyError, TypeError):
            return 400, {}, _json(_error_body("MalformedJSON", "UserName and Password required"))
        if (
            self.fault == "401"
            or not secrets.compare_digest(user, self.user)
            or not secrets.compare_digest(password, self._password)
        ):
            return 401, {}, _json(_error_body("NoValidSession", "Invalid user name or password."))
        token, sid = secrets.token_hex(16), secrets.token_hex(4)
        with self._lock:
            self.sessions[token] = sid
            self.logins += 1
        location = f"{SESSIONS}/{sid}"
        session = {"@odata.id": location, "Id": sid, "UserName": user}
        return 201, {"X-Auth-Token": token, "Location": location}, _json(session)

    # --- serving -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> int:
        if self._server is None:
            self._stopping.clear()
            self._server = _BmcServer((self.host, self.port), self)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
            self._thread.daemon = True
            self._thread.start()
        return self.port

    def stop(self) -> None:
        server, self._server = self._server, None
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.stop()

    async def ready(self) -> None:
        return None  # listening as soon as started


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body).encode()


class _BmcServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], bmc: SimulatedBmc) -> None:
        self.bmc = bmc
        self.context = bmc.tls.server_context()
        #: open connections, cut when the BMC stops (a stopped BMC answers nothing, kept-alive or not)
        self.connections: set[Any] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_close(self) -> None:
        super().server_close()
        with self.connections_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS first (in the connection's thread), then HTTP; the TLS socket closed whatever happens."""
        request.settimeout(10)
        try:
            conn = self.context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        except OSError:
            return
        with self.connections_lock:
            self.connections.add(conn)
        try:
            conn.do_handshake()
            _Handler(conn, client_address, self)
        except OSError:
            pass  # a client refusing our certificate (the tests' untrusted case), or gone
        finally:
            with self.connections_lock:
                self.connections.discard(conn)
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client refusing our certificate is expected in the tests: no traceback


class _Handler(BaseHTTPRequestHandler):
    server: _BmcServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.bmc.answer(self.command, self.path, self.headers, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("OData-Version", "4.0")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PATCH = _serve


class RedfishProfiledDevice:
    """A simulated server: the :class:`~twin.serve.device.ProfiledDevice` interface over one BMC."""

    def __init__(self, name: str, profile: Profile, bmc: SimulatedBmc) -> None:
        self.name = name
        self.profile = profile
        self.bmc = bmc
        self.agent = bmc

    def publish(
        self,
        values: Mapping[tuple[str, tuple[tuple[str, str], ...]], float],
        uptime_s: float,
        defaults: Mapping[str, float] | None = None,
    ) -> None:
        """The server's input power (``active_power_w``) and lifetime energy (``energy_j``) from the twin."""
        power = values.get(("active_power_w", ()))
        if power is not None:
            self.bmc.power_w = power
        energy = values.get(("energy_j", ()))
        if energy is not None:
            self.bmc.energy_kwh = energy / 3.6e6

    def setpoint(self, quantity: str) -> float | None:
        return None  # a server has no cooling setpoints
