"""The per-device energy-method info family (``pue_site_energy_method_info{device,method}``), rendered from cached
lines: one line per device, 10,000 at a large site, which prometheus-client built sample by sample at every
site tick. The text is byte for byte prometheus-client's (tests/core/test_exposition.py)."""

from __future__ import annotations

from prometheus_client.core import InfoMetricFamily

from agent.export import metric_names as m
from agent.export.exposition import family_header, sample_line
from agent.site.poller import SiteState

__all__ = ["METHODS_HELP", "EnergyMethodLines", "method_family"]

METHODS_HELP = "How each device's energy is obtained: device counter or integrated power"
_NAME = m.SITE_ENERGY_METHOD_INFO.removesuffix("_info")


def method_family(site: SiteState) -> InfoMetricFamily:
    """The family as prometheus-client builds it (``collect()``)."""
    methods = InfoMetricFamily(_NAME, METHODS_HELP, labels=["device", "method"])
    for device, method in site.energy_methods:
        methods.add_metric([device, method], {})
    return methods


class EnergyMethodLines:
    """The family's text per site state and format, each (device, method) line rendered once."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, str], str] = {}
        self._text: dict[bool, tuple[object, str]] = {}

    def exposition(self, site: SiteState | None, openmetrics: bool) -> str:
        if site is None:
            return ""
        hit = self._text.get(openmetrics)
        if hit is not None and hit[0] is site:
            return hit[1]
        header, sample = family_header(_NAME, "info", METHODS_HELP, openmetrics)
        lines = self._lines
        if len(lines) > 4 * len(site.energy_methods) + 1024:
            lines.clear()  # methods that churn cannot grow it for ever
        parts = [header]
        for key in site.energy_methods:
            line = lines.get(key)
            if line is None:
                line = lines[key] = sample_line(sample, (("device", key[0]), ("method", key[1])), 1.0)
            parts.append(line)
        text = "".join(parts)
        self._text[openmetrics] = (site, text)
        return text
