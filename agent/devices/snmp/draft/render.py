"""Profile draft output: the YAML with a comment on every guess, and where it is written."""

from __future__ import annotations

import re
from pathlib import Path

from agent.devices.snmp.draft.build import SINGLE
from agent.devices.snmp.draft.classify import split_words
from agent.devices.snmp.draft.model import Draft, fmt, scale_text
from agent.errors import UsageError


# --- output ------------------------------------------------------------------------------------
def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_profile(draft: Draft) -> str:
    """The draft as profile YAML, with a comment on every guess."""
    first_line = draft.sys_descr.splitlines()[0][:80] if draft.sys_descr.strip() else draft.name
    modules = ", ".join(draft.mib_modules) or "none"
    lines = [
        f"# DRAFT profile written by `pue-agent profile draft` from {draft.input_note}.",
        "# Every line marked 'guess' needs a person: check it against the MIB and the device's display, then",
        "# delete the mark. Writable setpoints have .nan bounds that the loader refuses until filled in.",
        f"# MIBs used: {', '.join(draft.mib_modules) if draft.mib_modules else 'none (drafted from the walk alone)'}",
        f"name: {draft.name}",
        f"description: {_yaml_str('DRAFT: ' + first_line)}",
        f"source: {_yaml_str('drafted from ' + draft.input_note + '; MIBs: ' + modules)}",
        f"kind: {draft.kind}   # guess: {draft.kind_reason}",
    ]
    if draft.sys_object_id:
        lines.append(f"sample_sys_object_id: {draft.sys_object_id}")
    lines.append("detect:")
    if draft.sys_object_id:
        lines.append(
            f'  sys_object_id_prefixes: ["{draft.sys_object_id}"]   # guess: this model\'s sysObjectID; '
            "shorten to the vendor's product subtree to cover the family"
        )
    else:
        lines.append("  # the device sent no sysObjectID: detect by sysDescr")
        lines.append(f"  sys_descr_pattern: {_yaml_str('^' + re.escape(draft.sys_descr[:20]))}   # guess")
    probe = next((o for o in draft.objects if o.quantity in SINGLE), draft.objects[0] if draft.objects else None)
    if probe is not None:
        instance = probe.oid or ".".join(
            [probe.column or "", *[str(e if e is not None else 1) for _l, e in probe.index]]
        )
        lines.append(
            f"  requires_oid: {instance}   # {probe.source}: present on this device (tells it from "
            "other models behind the same sysObjectID)"
        )
    if not draft.objects:
        lines.append("objects: []   # nothing found: give the device's MIBs with --mib-dir")
    else:
        lines.append("objects:")
    for o in draft.objects:
        lines.append(f"  - quantity: {o.quantity}")
        if o.oid is not None:
            lines.append(f"    oid: {o.oid}   # {o.source}")
        else:
            lines.append(f"    column: {o.column}   # {o.source}")
            parts = ", ".join(
                f"{{label: {label}}}" if equals is None else f"{{equals: {equals}}}" for label, equals in o.index
            )
            lines.append(f"    index: [{parts}]")
        if o.labels:
            lines.append("    labels: {" + ", ".join(f"{k}: {_yaml_str(v)}" for k, v in o.labels.items()) + "}")
        lines.append(f"    type: {o.type}")
        if o.decimals_column:
            lines.append(f"    decimals_column: {o.decimals_column}   # {o.decimals_source}")
        if o.scale != 1.0:
            lines.append(f"    scale: {scale_text(o.scale)}")
        if o.offset:
            lines.append(f"    offset: {scale_text(o.offset)}")
        if o.valid_min is not None:
            lines.append(f"    valid_min: {fmt(o.valid_min)}")
        if o.valid_max is not None:
            lines.append(f"    valid_max: {fmt(o.valid_max)}")
        if o.writable_step is not None:
            lines.append(
                f"    writable: {{min: .nan, max: .nan, step: {fmt(o.writable_step)}}}   # FILL IN from the "
                "vendor's manual (the loader refuses .nan)"
            )
        if o.optional:
            lines.append("    optional: true")
        seen = ", ".join(fmt(round(s, 3)) for s in o.samples[:4]) + (" ..." if len(o.samples) > 4 else "")
        lines.append(f"    # seen: {seen}")
        for comment in o.comments:
            lines.append(f"    # {comment}")
    if draft.skipped:
        lines.append("# Candidates not used (add them by hand if they are what you need):")
        lines.extend(f"#   {s}" for s in draft.skipped)
    return "\n".join(lines) + "\n"


def write_draft(text: str, out: Path, *, force: bool) -> None:
    """Write the draft; refuse to overwrite an existing file unless ``force``."""
    if out.exists() and not force:
        raise UsageError(f"{out}: exists; pass --force to overwrite it")
    out.write_text(text, encoding="utf-8")


def profile_name_for(out: Path | None, sys_descr: str, sys_oid: str) -> str:
    """A profile name: the output file's stem (the loader requires it), else one from the device."""
    if out is not None:
        name = out.stem
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            raise UsageError(
                f"{out}: a profile file is named NAME.yaml with NAME in lower case letters, digits, "
                "'-' and '_' (the profile's name must equal it)"
            )
        return name
    words = split_words(sys_descr)[:2] or ["device"]
    enterprise = sys_oid.split(".")[6] if sys_oid.startswith("1.3.6.1.4.1.") and sys_oid.count(".") >= 6 else ""
    stem = "-".join(re.sub(r"[^a-z0-9]", "", w) for w in words if w)
    return f"draft-{stem}" + (f"-{enterprise}" if enterprise else "")
