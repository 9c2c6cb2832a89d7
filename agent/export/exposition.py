"""/metrics without rebuilding every device's series at each scrape (issue 17).

prometheus-client renders a scrape by asking every collector for fresh metric families and formatting each
sample: at 10,000 devices that is 8.5 MB of text built sample by sample in 1.8 s, holding the GIL while the
event loop waits to poll. Here the per-device lines are rendered once, when the device's poll completes
(:class:`agent.export.device_series.DeviceSeries`), and a scrape checks each device's freshness and joins the
cached text. Site-level families are rendered once per
site tick (:class:`TickCache`).

The text is byte for byte what prometheus-client's ``generate_latest`` (Prometheus text 0.0.4) and its
OpenMetrics ``generate_latest`` make of the same collectors (tests/core/test_exposition.py compares them):
sample lines are the same in both formats (no timestamps, exemplars or units here); only the ``# HELP``/``# TYPE``
headers and the final ``# EOF`` differ. Label names must be legacy Prometheus names (they are: quantities and
profile labels are snake_case), label values are escaped as prometheus-client does.
"""

from __future__ import annotations

import gzip
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, Protocol, cast, runtime_checkable
from urllib.parse import parse_qs

from prometheus_client.exposition import choose_encoder, gzip_accepted, make_wsgi_app
from prometheus_client.exposition import generate_latest as text_latest
from prometheus_client.openmetrics import exposition as _openmetrics
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = [
    "Exposable",
    "ExpositionRegistry",
    "TickCache",
    "family_header",
    "float_text",
    "metrics_app",
    "sample_line",
]

_EOF = "# EOF\n"
_INF = math.inf

#: prometheus-client's OpenMetrics renderer (untyped)
openmetrics_latest = cast(Callable[[Collector], bytes], _openmetrics.generate_latest)


def float_text(value: float) -> str:
    """A sample value as prometheus-client writes it (Go's text: "+Inf", "NaN", "1.26e+10").

    Its ``floatToGoString`` checks for infinities and NaN first; here the usual value (finite, below 1e6: its
    shortest repr has at most six digits before the point, so Go keeps it as it is) is one comparison and a
    ``repr``, in about 60 % of the time. A poll renders a dozen of them (tests/core/test_exposition.py checks
    equality over edge cases).
    """
    d = float(value)
    if -_INF < d < 1e6:  # False for NaN
        return repr(d)
    if 1e6 <= d < _INF:  # Go writes an exponent from seven digits before the point on
        s = repr(d)
        dot = s.find(".")
        if dot > 6:
            digits = (s[:dot] + s[dot + 1 :]).rstrip("0")
            return f"{digits[0]}.{digits[1:]}e+{dot - 1:02d}" if len(digits) > 1 else f"{digits}e+{dot - 1:02d}"
        return s
    return "+Inf" if d == _INF else "-Inf" if d == -_INF else "NaN"


@runtime_checkable
class Exposable(Protocol):
    """A collector that renders its own exposition text (both formats), cheaper than its ``collect()``."""

    def exposition(self, openmetrics: bool) -> str: ...


def escape_value(value: str) -> str:
    """A label value as prometheus-client writes it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def sample_line(name: str, labels: Iterable[tuple[str, str]], value: float) -> str:
    """One sample, labels sorted by name, as both of prometheus-client's formats write it."""
    pairs = sorted(labels)
    if not pairs:
        return f"{name} {float_text(value)}\n"
    inner = ",".join(f'{k}="{escape_value(v)}"' for k, v in pairs)
    return f"{name}{{{inner}}} {float_text(value)}\n"


def family_header(name: str, kind: str, documentation: str, openmetrics: bool) -> tuple[str, str]:
    """A family's ``# HELP``/``# TYPE`` lines and the name of its samples.

    ``name`` as given to prometheus-client's metric families (counters without ``_total``, info without
    ``_info``); ``kind`` is ``gauge``, ``counter`` or ``info``.
    """
    sample = name + "_total" if kind == "counter" else name + "_info" if kind == "info" else name
    if openmetrics:
        doc = escape_value(documentation)
        return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n", sample
    doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
    shown = "gauge" if kind == "info" else kind
    return f"# HELP {sample} {doc}\n# TYPE {sample} {shown}\n", sample


def render(collector: Collector, openmetrics: bool) -> str:
    """A collector's text through prometheus-client itself (without the OpenMetrics ``# EOF``)."""
    if openmetrics:
        return openmetrics_latest(collector).decode().removesuffix(_EOF)
    return text_latest(collector).decode()


class ExpositionRegistry(CollectorRegistry):
    """A registry that remembers its collectors in order and renders /metrics from them.

    A collector with ``exposition()`` renders its own text; any other goes through prometheus-client. Still
    a ``CollectorRegistry``: ``generate_latest(registry)`` gives the same bytes the slow way.
    """

    def __init__(self) -> None:
        super().__init__(auto_describe=True)
        self._ordered: list[Collector] = []
        self._order_lock = threading.Lock()

    def register(self, collector: Collector) -> None:
        super().register(collector)
        with self._order_lock:
            self._ordered.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        with self._order_lock:
            self._ordered.remove(collector)

    def exposition(self, openmetrics: bool) -> bytes:
        with self._order_lock:
            collectors = list(self._ordered)
        parts = [c.exposition(openmetrics) if isinstance(c, Exposable) else render(c, openmetrics) for c in collectors]
        if openmetrics:
            parts.append(_EOF)
        return "".join(parts).encode()


def _fast_format(accept: str | None) -> tuple[bool, str] | None:
    """(OpenMetrics?, content type) as prometheus-client would negotiate them, None for what it does otherwise.

    Escaping schemes (``escaping=`` in Accept) change only names outside the legacy character set: the agent
    has none, so every scheme gives the same text.
    """
    encoder, content_type = choose_encoder(accept or "")
    func = encoder.func if isinstance(encoder, partial) else encoder
    if func is text_latest:
        return False, content_type
    if func is openmetrics_latest:
        return True, content_type
    return None


#: gzip level of /metrics: 1 compresses repetitive exposition text to about the size level 9 does, several
#: times faster (prometheus-client uses 9); zlib releases the GIL while it compresses
GZIP_LEVEL = 1


def metrics_app(registry: ExpositionRegistry) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    """prometheus-client's WSGI app, but a GET renders through :meth:`ExpositionRegistry.exposition`.

    Same negotiation: OpenMetrics when Accept asks for it, gzip when Accept-Encoding allows it; the rarer
    requests (``name[]`` filters, OPTIONS, other methods) go to prometheus-client's own app.
    """
    fallback = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        fmt = _fast_format(environ.get("HTTP_ACCEPT"))
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("PATH_INFO") == "/favicon.ico"
            or "name[]" in parse_qs(environ.get("QUERY_STRING", ""))
            or fmt is None
        ):
            return fallback(environ, start_response)  # type: ignore[no-any-return]
        openmetrics, content_type = fmt
        output = registry.exposition(openmetrics)
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING") or ""):
            output = gzip.compress(output, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [output]

    return app


class TickCache:
    """A collector's text, rendered once per value of ``key()`` (the site state, replaced at each tick)."""

    def __init__(self, collector: Collector, key: Callable[[], object]) -> None:
        self._collector = collector
        self._key = key
        self._cached: dict[bool, tuple[object, str]] = {}

    def exposition(self, openmetrics: bool) -> str:
        key = self._key()
        hit = self._cached.get(openmetrics)
        if hit is not None and hit[0] is key:
            return hit[1]
        text = render(self._collector, openmetrics)
        self._cached[openmetrics] = (key, text)
        return text


def counter_family(
    cache: dict[Any, tuple[float, str]],
    name: str,
    documentation: str,
    label_names: tuple[str, ...],
    rows: Mapping[Any, float],
    openmetrics: bool,
) -> str:
    """A counter family from a dict (sorted by key), e.g. poll errors by device and kind; ``cache`` keeps each
    key's line while its value stays."""
    header, sample = family_header(name, "counter", documentation, openmetrics)
    lines = []
    for key, value in sorted(rows.items()):
        hit = cache.get(key)
        if hit is None or hit[0] != value:
            hit = cache[key] = (value, sample_line(sample, zip(label_names, key, strict=True), value))
        lines.append(hit[1])
    return header + "".join(lines)
