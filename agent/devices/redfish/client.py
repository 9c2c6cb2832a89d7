"""The Redfish client behind the seam: HTTPS GETs to a server's BMC over urllib3, its errors translated here.

:class:`RedfishClient` is the narrow Protocol the adapter uses (``get``, ``close``); :class:`UrllibRedfishClient`
keeps one urllib3 connection pool per BMC (host, port, account, trust) and runs its blocking requests on a
small thread pool, so that a slow BMC holds one thread, never the event loop. urllib3's errors become
:class:`~agent.errors.RedfishError` kinds here and nowhere else:

- no answer within ``timeout_s`` x (1 + ``retries``), a refused or reset connection: RedfishTimeoutError;
- a certificate the configured CA does not vouch for (or a wrong host name): RedfishTlsError;
- 401/403, a session the BMC refuses to open: RedfishAuthError (a session that expired is opened once again);
- 404, 5xx, a body that is not a JSON object: RedfishProtocolError.

Authentication (DMTF DSP0266 section 13): ``basic`` sends HTTP basic auth with every request; ``session``
POSTs the account to ``/redfish/v1/SessionService/Sessions`` once, sends the ``X-Auth-Token`` it returns,
and DELETEs the session (its ``Location``) on close, so that a BMC's few session slots are not exhausted.
The password leaves its :class:`~pydantic.SecretStr` only inside this module, to build a request; it is in
no message, log line or ``repr``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import urllib3
from pydantic import SecretStr
from urllib3.exceptions import (
    HTTPError,
    InsecureRequestWarning,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import (
    TimeoutError as Urllib3TimeoutError,
)

from agent.errors import RedfishAuthError, RedfishProtocolError, RedfishTimeoutError, RedfishTlsError

__all__ = ["SERVICE_ROOT", "RedfishClient", "RedfishTarget", "UrllibRedfishClient"]

log = logging.getLogger(__name__)

# urllib3 logs each retry at WARNING; the agent logs each device's failure once (agent.site.poller)
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

SERVICE_ROOT = "/redfish/v1"
SESSIONS = f"{SERVICE_ROOT}/SessionService/Sessions"

#: the most bytes of a BMC's answer read (a Chassis or Power resource is a few kB)
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RedfishTarget:
    """Where one BMC answers and how the agent logs in (the password never in ``repr`` or ``str``)."""

    host: str
    port: int = 443
    user: str = ""
    password: SecretStr = field(default=SecretStr(""), repr=False)
    auth: Literal["session", "basic"] = "session"
    ca_file: Path | None = None
    verify: bool = True
    timeout_s: float = 2.0
    retries: int = 1

    def __str__(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def key(self) -> tuple[object, ...]:
        return (self.host, self.port, self.user, self.auth, self.ca_file, self.verify, self.timeout_s, self.retries)


class RedfishClient(Protocol):
    """The narrow seam the Redfish adapter goes through."""

    async def get(self, target: RedfishTarget, path: str) -> dict[str, Any]:
        """The JSON object at ``path`` (``/redfish/v1/...``); raise a RedfishError kind."""
        ...

    async def close(self) -> None: ...


def ssl_context(target: RedfishTarget) -> ssl.SSLContext:
    """Verification on (system CAs, or only ``ca_file``'s) unless the config says ``verify: false``."""
    if not target.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file is not None else None)
    except (OSError, ssl.SSLError) as err:
        raise RedfishTlsError(f"{target}: cannot load the CA file {target.ca_file}: {err}") from err


@dataclass(frozen=True, slots=True)
class _Answer:
    """One HTTP answer, read whole (at most MAX_BODY_BYTES + 1 bytes)."""

    status: int
    headers: Mapping[str, str]
    data: bytes


class _Bmc:
    """One BMC's connection pool and session (token, Location)."""

    def __init__(self, target: RedfishTarget) -> None:
        self.target = target
        self.pool = urllib3.HTTPSConnectionPool(
            target.host,
            target.port,
            ssl_context=ssl_context(target),
            cert_reqs="CERT_REQUIRED" if target.verify else "CERT_NONE",
            assert_hostname=None if target.verify else False,
            timeout=urllib3.Timeout(connect=target.timeout_s, read=target.timeout_s),
            maxsize=1,
            block=True,
            retries=False,
        )
        self.token: str | None = None
        self.session_uri: str | None = None
        self.login_lock = asyncio.Lock()


class UrllibRedfishClient:
    """:class:`RedfishClient` over urllib3: one pool per BMC, blocking requests on a small thread pool."""

    def __init__(self, max_threads: int = 8) -> None:
        self._bmcs: dict[tuple[object, ...], _Bmc] = {}
        self._max_threads = max_threads
        self._executor: ThreadPoolExecutor | None = None
        self._warned: set[tuple[str, int]] = set()
        #: HTTP requests sent (benchmarks and tests count them)
        self.requests = 0

    def _bmc(self, target: RedfishTarget) -> _Bmc:
        bmc = self._bmcs.get(target.key)
        if bmc is None:
            if not target.verify and (target.host, target.port) not in self._warned:
                self._warned.add((target.host, target.port))
                # the agent's own warning replaces urllib3's, which would repeat at every request
                urllib3.disable_warnings(InsecureRequestWarning)
                log.warning(
                    "%s: TLS certificate verification is OFF (verify: false): anyone on the path can read "
                    "this BMC's answers and its credentials; give the BMCs' CA in ca_file instead",
                    target,
                )
            bmc = self._bmcs[target.key] = _Bmc(target)
        return bmc

    def _headers(self, bmc: _Bmc) -> dict[str, str]:
        headers = {"Accept": "application/json", "OData-Version": "4.0"}
        if bmc.target.auth == "basic":
            secret = f"{bmc.target.user}:{bmc.target.password.get_secret_value()}"
            headers.update(urllib3.make_headers(basic_auth=secret))
        elif bmc.token is not None:
            headers["X-Auth-Token"] = bmc.token
        return headers

    def _request(
        self, bmc: _Bmc, method: str, path: str, body: bytes | None, headers: dict[str, str], retries: int
    ) -> _Answer:
        """One blocking request (in a worker thread); transport errors become RedfishError kinds."""
        target = bmc.target
        what = f"{target}: {method} {path}"
        retry = urllib3.Retry(total=retries, connect=retries, read=retries, status=0, other=0, redirect=0)
        self.requests += 1
        try:
            response = bmc.pool.urlopen(
                method, path, body=body, headers=headers, retries=retry, preload_content=False, redirect=False
            )
        except MaxRetryError as err:
            reason = err.reason
            if isinstance(reason, SSLError):
                raise _tls_error(what, reason) from err
            if isinstance(reason, NewConnectionError) and "timed out" not in str(reason):
                raise RedfishTimeoutError(f"{what}: cannot connect ({_short(reason)})") from err
            raise RedfishTimeoutError(
                f"{what}: no answer within {target.timeout_s:g} s x {1 + retries} tries ({_short(reason)})"
            ) from err
        except SSLError as err:
            raise _tls_error(what, err) from err
        except (Urllib3TimeoutError, ProtocolError, OSError) as err:
            raise RedfishTimeoutError(f"{what}: {_short(err)}") from err
        except HTTPError as err:
            raise RedfishProtocolError(f"{what}: {_short(err)}") from err
        try:
            data = response.read(MAX_BODY_BYTES + 1)
            if len(data) > MAX_BODY_BYTES:
                response.close()  # the rest unread: the connection is not reused
        except (HTTPError, OSError) as err:
            response.close()
            raise RedfishTimeoutError(f"{what}: the answer broke off ({_short(err)})") from err
        finally:
            response.release_conn()
        return _Answer(response.status, response.headers, data)

    async def _call(
        self, bmc: _Bmc, method: str, path: str, body: bytes | None = None, retries: int | None = None
    ) -> _Answer:
        headers = self._headers(bmc)
        if body is not None:
            headers["Content-Type"] = "application/json"
        tries = bmc.target.retries if retries is None else retries
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self._max_threads, thread_name_prefix="redfish")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._request, bmc, method, path, body, headers, tries)

    async def _login(self, bmc: _Bmc, stale: str | None) -> None:
        """Open a session (once, however many reads wait for it); ``stale``: the token that was refused."""
        async with bmc.login_lock:
            if bmc.token is not None and bmc.token != stale:
                return  # another read logged in meanwhile
            bmc.token = None
            target = bmc.target
            account = {"UserName": target.user, "Password": target.password.get_secret_value()}
            # no retry: a POST that timed out may have opened a session; the next poll logs in again
            response = await self._call(bmc, "POST", SESSIONS, json.dumps(account).encode(), retries=0)
            if response.status in (401, 403):
                raise RedfishAuthError(f"{target}: POST {SESSIONS}: {response.status}: the BMC refused the account")
            if response.status not in (200, 201):
                raise RedfishProtocolError(
                    f"{target}: POST {SESSIONS}: HTTP {response.status}{_redfish_message(response)}"
                )
            token = response.headers.get("X-Auth-Token")
            if not token:
                raise RedfishProtocolError(f"{target}: POST {SESSIONS}: no X-Auth-Token in the answer")
            bmc.token = token
            bmc.session_uri = response.headers.get("Location")

    async def get(self, target: RedfishTarget, path: str) -> dict[str, Any]:
        bmc = self._bmc(target)
        for attempt in (1, 2):
            if target.auth == "session" and bmc.token is None:
                await self._login(bmc, None)
            sent_token = bmc.token
            response = await self._call(bmc, "GET", path)
            if response.status == 401 and target.auth == "session" and attempt == 1:
                await self._login(bmc, sent_token)  # the session expired or was deleted on the BMC: once more
                continue
            return _json_object(target, path, response)
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        """Delete every open session (best effort, all BMCs at once), close the pools and the threads."""

        async def logout(bmc: _Bmc) -> None:
            if bmc.token is not None and bmc.session_uri is not None:
                try:
                    await self._call(bmc, "DELETE", _path_of(bmc.session_uri), retries=0)
                except (RedfishTimeoutError, RedfishProtocolError) as err:
                    log.info("%s: could not delete the session: %s", bmc.target, err)
            bmc.token = bmc.session_uri = None

        await asyncio.gather(*(logout(bmc) for bmc in self._bmcs.values()))
        for bmc in self._bmcs.values():
            bmc.pool.close()
        self._bmcs.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


def _path_of(uri: str) -> str:
    """The path of a Location header (absolute URL or path), so that it is sent to the same BMC."""
    parsed = urllib3.util.parse_url(uri)
    return parsed.request_uri if parsed.host else uri


def _short(err: object) -> str:
    text = str(err)
    return text if len(text) <= 200 else text[:200] + "..."


def _tls_error(what: str, err: Exception) -> RedfishTlsError:
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        hint = (
            "the BMC's certificate is not signed by a trusted CA (self-signed?) or names another host: give the "
            "CA that signed it in the credentials' ca_file (verify: false only knowingly)"
        )
        return RedfishTlsError(f"{what}: TLS: certificate verification failed: {hint} ({_short(text)})")
    return RedfishTlsError(f"{what}: TLS handshake failed: {_short(text)}")


def _redfish_message(response: _Answer) -> str:
    """The Redfish error message of an error answer (``error.message``), if it has one."""
    try:
        body = json.loads(response.data)
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {_short(message)}" if isinstance(message, str) else ""


def _json_object(target: RedfishTarget, path: str, response: _Answer) -> dict[str, Any]:
    what = f"{target}: GET {path}"
    status = response.status
    if status in (401, 403):
        raise RedfishAuthError(f"{what}: {status}: the BMC refused the account{_redfish_message(response)}")
    if status == 404:
        raise RedfishProtocolError(f"{what}: 404 Not Found (the BMC has no such resource)")
    if status != 200:
        raise RedfishProtocolError(f"{what}: HTTP {status}{_redfish_message(response)}")
    data = response.data
    if len(data) > MAX_BODY_BYTES:
        raise RedfishProtocolError(f"{what}: the answer is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise RedfishProtocolError(f"{what}: the answer is not JSON ({_short(err)})") from err
    if not isinstance(body, dict):
        raise RedfishProtocolError(f"{what}: the answer is JSON but not an object")
    return body
