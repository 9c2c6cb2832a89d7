"""The metrics/API endpoint: HTTPS (with and without client certificates) and bcrypt basic auth,
in the style of Prometheus's web.config. Real TLS on loopback with a PKI made in the test."""

from __future__ import annotations

import base64
import http.client
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry
from pydantic import SecretStr

from agent.app.http import ApiHandlers, HttpServer
from agent.app.security import make_http_server
from agent.config.web import TlsServerConfig, WebConfig, load_web_config
from agent.errors import ConfigError

sys.path.append(str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))
from certs import Pki, make_pki

USER, PASSWORD = "prometheus", "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


class _One:
    def collect(self):  # type: ignore[no-untyped-def]
        g = GaugeMetricFamily("pue_test_value", "test")
        g.add_metric([], 42.0)
        yield g


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _serve(web: WebConfig | None) -> Iterator[str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_One())  # type: ignore[arg-type]
    server = make_http_server(registry, ApiHandlers(), web)
    host, port = server.start("127.0.0.1", 0)
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()


def _get(
    url: str, *, ctx: ssl.SSLContext | None = None, user: str | None = None, password: str | None = None
) -> tuple[int, str, dict[str, str]]:
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode(), dict(err.headers)


def _client_ctx(pki: Pki, with_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    if with_cert:
        ctx.load_cert_chain(pki.client_cert, pki.client_key)
    return ctx


def test_https_with_basic_auth(pki: Pki) -> None:
    web = WebConfig(
        tls_server_config=TlsServerConfig(cert_file=pki.server_cert, key_file=pki.server_key),
        basic_auth_users={USER: SecretStr(HASH)},
    )
    for addr in _serve(web):
        ctx = _client_ctx(pki)
        status, body, _ = _get(f"https://{addr}/metrics", ctx=ctx, user=USER, password=PASSWORD)
        assert status == 200 and "pue_test_value 42.0" in body
        # the cached check answers the same
        assert _get(f"https://{addr}/metrics", ctx=ctx, user=USER, password=PASSWORD)[0] == 200
        status, body, headers = _get(f"https://{addr}/metrics", ctx=ctx)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
        assert "pue_test_value" not in body
        assert _get(f"https://{addr}/metrics", ctx=ctx, user=USER, password="wrong")[0] == 401
        assert _get(f"https://{addr}/metrics", ctx=ctx, user="nobody", password=PASSWORD)[0] == 401
        assert _get(f"https://{addr}/api/v1/actions", ctx=ctx)[0] == 401  # the API is behind auth too
        assert _get(f"https://{addr}/api/v1/actions", ctx=ctx, user=USER, password=PASSWORD)[0] == 200
        # plain HTTP against the TLS port fails; nothing is served in clear text
        with pytest.raises((OSError, http.client.HTTPException)):
            _get(f"http://{addr}/metrics", user=USER, password=PASSWORD)
        # a client that does not trust the server's CA refuses it
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            _get(f"https://{addr}/metrics", ctx=ssl.create_default_context(), user=USER, password=PASSWORD)
        # after all that, the server still serves
        assert _get(f"https://{addr}/metrics", ctx=ctx, user=USER, password=PASSWORD)[0] == 200


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Bearer abc",
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_malformed_authorization_is_401(header: str) -> None:
    for addr in _serve(WebConfig(basic_auth_users={USER: SecretStr(HASH)})):
        req = urllib.request.Request(f"http://{addr}/metrics", headers={"Authorization": header})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=5)
        info.value.close()
        assert info.value.code == 401


def test_client_certificate_required(pki: Pki) -> None:
    web = WebConfig(
        tls_server_config=TlsServerConfig(
            cert_file=pki.server_cert,
            key_file=pki.server_key,
            client_ca_file=pki.ca_cert,
            client_auth_type="RequireAndVerifyClientCert",
        )
    )
    for addr in _serve(web):
        status, body, _ = _get(f"https://{addr}/metrics", ctx=_client_ctx(pki, with_cert=True))
        assert status == 200 and "pue_test_value" in body
        with pytest.raises((OSError, http.client.HTTPException)):
            _get(f"https://{addr}/metrics", ctx=_client_ctx(pki, with_cert=False))
        # a certificate from another CA is refused as well
        (pki.ca_cert.parent / "other").mkdir(exist_ok=True)
        other = make_pki(pki.ca_cert.parent / "other")
        ctx = _client_ctx(pki)
        ctx.load_cert_chain(other.client_cert, other.client_key)
        with pytest.raises((OSError, http.client.HTTPException)):
            _get(f"https://{addr}/metrics", ctx=ctx)
        assert _get(f"https://{addr}/metrics", ctx=_client_ctx(pki, with_cert=True))[0] == 200


def test_without_web_config_the_plain_server_is_used() -> None:
    registry = CollectorRegistry(auto_describe=False)
    assert type(make_http_server(registry, ApiHandlers(), None)) is HttpServer
    assert type(make_http_server(registry, ApiHandlers(), WebConfig())) is HttpServer


def test_web_config_file_errors_name_file_and_path(tmp_path: Path, pki: Pki) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        "basic_auth_users:\n  alice: hunter2-plain-password\ntls_server_config:\n"
        "  cert_file: server.crt\n  client_auth_type: RequireAnyClientCert\nextra: 1\n"
    )
    with pytest.raises(ConfigError) as info:
        load_web_config(path)
    text = str(info.value)
    assert f"{path}: basic_auth_users" in text and "not a bcrypt hash" in text
    assert "tls_server_config.key_file" in text and "tls_server_config.client_auth_type" in text
    assert "extra: unknown key" in text
    assert "hunter2-plain-password" not in text  # a pasted password is never echoed
    # relative certificate paths are relative to the web config file
    (tmp_path / "tls").mkdir()
    for src, name in ((pki.server_cert, "s.crt"), (pki.server_key, "s.key")):
        (tmp_path / "tls" / name).write_bytes(src.read_bytes())
    path.write_text("tls_server_config: {cert_file: tls/s.crt, key_file: tls/s.key}\n")
    web = load_web_config(path)
    assert web.tls_server_config is not None and web.tls_server_config.cert_file == tmp_path / "tls" / "s.crt"
