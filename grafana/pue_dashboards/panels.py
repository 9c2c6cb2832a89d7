"""Grafana panel, target, variable, annotation and dashboard JSON: what every dashboard is built from.

Dashboards reference the Prometheus datasource by its fixed uid (grafana/provisioning/datasources/prometheus.yaml):
provisioned dashboards cannot use ``__inputs`` / ``${DS_PROMETHEUS}``. Every panel has a description (its own
``description=`` or an entry of :data:`pue_dashboards.notes.PANEL_NOTES`): :func:`dashboard` fails otherwise.
"""

from __future__ import annotations

from typing import Any

from pue_dashboards.notes import PANEL_NOTES

DATASOURCE = {"type": "prometheus", "uid": "pue-prometheus"}
SCHEMA_VERSION = 39

Panel = dict[str, Any]


def target(
    expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, table: bool = False
) -> dict[str, Any]:
    t: dict[str, Any] = {
        "datasource": DATASOURCE,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend or "__auto",
    }
    if instant:
        t["instant"] = True
        t["range"] = False
    if table:
        t["format"] = "table"
    return t


def _targets(queries: list[tuple[str, str]], **kw: bool) -> list[dict[str, Any]]:
    return [target(expr, legend, chr(ord("A") + i), **kw) for i, (expr, legend) in enumerate(queries)]


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def panel(
    kind: str,
    title: str,
    queries: list[tuple[str, str]],
    grid: tuple[int, int, int, int],
    *,
    unit: str = "none",
    description: str = "",
    decimals: int | None = None,
    instant: bool = False,
    thresholds: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    interval: str | None = None,
    time_from: str | None = None,
    time_shift: str | None = None,
) -> Panel:
    x, y, w, h = grid
    defaults: dict[str, Any] = {"unit": unit}
    if decimals is not None:
        defaults["decimals"] = decimals
    if thresholds is not None:
        defaults["thresholds"] = thresholds
    if custom:
        defaults["custom"] = custom
    p: Panel = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        "targets": _targets(queries, instant=instant, table=kind == "table"),
    }
    if interval:
        p["interval"] = interval
    if time_from:  # Grafana's per-panel "relative time" (e.g. now/d: today so far, now/M: this month so far)
        p["timeFrom"] = time_from
    if time_shift:  # and "time shift" (1d/d with now/d: yesterday 00:00-24:00)
        p["timeShift"] = time_shift
    return p


def stat(title: str, expr: str, grid: tuple[int, int, int, int], legend: str = "{{site}}", **kw: Any) -> Panel:
    kw.setdefault(
        "options",
        {
            "reduceOptions": {"calcs": ["lastNotNull"]},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "value_and_name",
        },
    )
    return panel("stat", title, [(expr, legend)], grid, instant=True, **kw)


def bargauge(
    title: str, queries: list[tuple[str, str]], grid: tuple[int, int, int, int], *, display: str = "basic", **kw: Any
) -> Panel:
    """Horizontal bars of each query's value at the end of the range (instant queries)."""
    options = {"orientation": "horizontal", "displayMode": display, "reduceOptions": {"calcs": ["lastNotNull"]}}
    return panel("bargauge", title, queries, grid, instant=True, options=options, **kw)


def cost_by_tariff_period(title: str, grid: tuple[int, int, int, int], *, description: str, **kw: Any) -> Panel:
    """The site's energy cost over the panel's range by tariff period (the energy-audit and morning dashboards)."""
    from pue_dashboards.queries import CNY, COST  # queries builds on this module (annotations): imported late

    query = (f"sum by (site, period) (increase({COST}[$__range]))", "{{period}} {{site}}")
    return bargauge(title, [query], grid, unit=CNY, decimals=0, description=description, **kw)


def timeseries(
    title: str,
    queries: list[tuple[str, str]],
    grid: tuple[int, int, int, int],
    *,
    stacked: bool = False,
    bars: bool = False,
    **kw: Any,
) -> Panel:
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if stacked else 10,
        "lineWidth": 1,
        "showPoints": "never",
    }
    if stacked:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    custom.update(kw.pop("custom", {}) or {})
    kw.setdefault(
        "options",
        {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "mean"]},
            "tooltip": {"mode": "multi"},
        },
    )
    return panel("timeseries", title, queries, grid, custom=custom, **kw)


def table(
    title: str,
    queries: list[tuple[str, str]],
    grid: tuple[int, int, int, int],
    *,
    hide: tuple[str, ...] = ("Time", "__name__", "job", "instance"),
    **kw: Any,
) -> Panel:
    p = panel("table", title, queries, grid, instant=True, **kw)
    p["transformations"] = [{"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}}]
    return p


def override_unit(ref: str, unit: str, *, right_axis: bool = True) -> dict[str, Any]:
    props: list[dict[str, Any]] = [{"id": "unit", "value": unit}]
    if right_axis:
        props.append({"id": "custom.axisPlacement", "value": "right"})
    return {"matcher": {"id": "byFrameRefID", "options": ref}, "properties": props}


def query_var(name: str, label: str, query: str, *, include_all: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "refresh": 2,
        "includeAll": include_all,
        "multi": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if include_all else {},
    }


SITE_VAR = query_var("site", "Site", "label_values(pue_build_info, site)")
ZONE_VAR = query_var("zone", "Zone", 'label_values(pue_device_up{site=~"$site"}, zone)')
DEVICE_VAR = query_var("device", "Device", 'label_values(pue_device_up{site=~"$site", zone=~"$zone"}, device)')


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Panel],
    variables: list[dict[str, Any]],
    *,
    time_from: str = "now-24h",
    time_to: str = "now",
    refresh: str = "30s",
    annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    for i, p in enumerate(panels, start=1):
        p["id"] = i
        if not p["description"]:
            p["description"] = PANEL_NOTES[p["title"]]  # KeyError: a panel without a description
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["pue-agent"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": time_from, "to": time_to},
        "refresh": refresh,
        "templating": {"list": variables},
        "annotations": {"list": annotations or []},
        "links": [{"type": "dashboards", "tags": ["pue-agent"], "asDropdown": True, "title": "PUE dashboards"}],
        "panels": panels,
    }


PUE_THRESHOLDS = thresholds((None, "green"), (1.3, "orange"), (1.5, "red"))
#: the ASHRAE recommended rack-inlet envelope, 18-27 C
ASHRAE_ENVELOPE = thresholds((None, "blue"), (18, "green"), (27, "red"))


def hottest_inlet(grid: tuple[int, int, int, int], **kw: Any) -> Panel:
    """The warmest rack inlet of the selected site and zones now (the morning and cooling dashboards)."""
    from pue_dashboards.queries import RACK_INLET_MAX  # queries builds on this module (annotations): imported late

    return stat(
        "Hottest rack inlet",
        f"max by (site) ({RACK_INLET_MAX})",
        grid,
        unit="celsius",
        thresholds=ASHRAE_ENVELOPE,
        **kw,
    )


def annotation(name: str, expr: str, color: str, title: str, text: str, tags: str) -> dict[str, Any]:
    """A Prometheus annotation: an event wherever ``expr`` has a value (consecutive steps make one region)."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "expr": expr,
        "step": "60s",
        "titleFormat": title,
        "textFormat": text,
        "tagKeys": tags,
        "useValueForTime": False,
    }
