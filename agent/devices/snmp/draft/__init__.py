"""``pue-agent profile draft``: propose a device profile from a walk and the MIBs (our snmp_exporter generator).

Input is a walk, from a live device (:func:`walk_device`) or a ``.snmprec`` recording (:func:`read_snmprec`),
and optionally a :class:`~agent.devices.snmp.mibs.MibTree`. For every numeric object the walk holds, the object's name,
UNITS, DESCRIPTION and DISPLAY-HINT (or, without MIBs, the row's own name strings and the value's SNMP
type) say whether it is a power, energy, temperature, current, voltage, frequency, humidity or setpoint,
and at what scale; tables become index labels, an enumerated index part (a sensor-type column in the
index) becomes one object per type with ``equals``, and an OBJECT IDENTIFIER column naming each row
(resolved through the MIBs) picks the row's quantity. The result is profile YAML with a comment on every
guess; it loads at once, except where a person must decide: writable setpoints carry ``.nan`` bounds, which
the profile loader refuses until they are filled in.

Example::

    >>> walk = read_snmprec(Path("janitza.snmprec"))
    >>> text = render_profile(draft_profile(walk, mibs, name="my-meter"))

The package follows the draft's flow: :mod:`.walk` (input), :mod:`.classify` (what an object measures and its
scale), :mod:`.tables` (objects and tables of the walk), :mod:`.build` (proposed objects, totals, kind),
:mod:`.render` (the YAML).
"""

from agent.devices.snmp.draft.build import draft_profile
from agent.devices.snmp.draft.classify import Guess, classify, find_scale
from agent.devices.snmp.draft.model import Draft, DraftObject
from agent.devices.snmp.draft.render import profile_name_for, render_profile, write_draft
from agent.devices.snmp.draft.walk import SYS_DESCR, SYS_NAME, SYS_OBJECT_ID, WALK_ROOTS, read_snmprec, walk_device

__all__ = [
    "SYS_DESCR",
    "SYS_NAME",
    "SYS_OBJECT_ID",
    "WALK_ROOTS",
    "Draft",
    "DraftObject",
    "Guess",
    "classify",
    "draft_profile",
    "find_scale",
    "profile_name_for",
    "read_snmprec",
    "render_profile",
    "walk_device",
    "write_draft",
]
