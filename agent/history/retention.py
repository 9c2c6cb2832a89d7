"""Retention of packed raw blocks in SQLite: polls and readings expire before the device energy beside them.

A block older than the raw retention but within the energy retention is rewritten holding its device energy
only (the block format keeps any of its three row kinds; :mod:`agent.history.blocks`), in the purge's
transaction, so a kill -9 leaves the old block or the new one. The cut-offs: :mod:`agent.config.retention`.
"""

from __future__ import annotations

import math
import sqlite3

from agent.history.blocks import RawBlock
from agent.history.raw import RawRows

__all__ = ["strip_readings"]

#: the longest block (a day block) [s]
_MAX_SPAN_S = 86400


def strip_readings(raw: RawRows, db: sqlite3.Connection, before_s: float, after_s: float = -math.inf) -> int:
    """Blocks wholly older than ``before_s`` that still hold polls or readings rewritten with their device
    energy only (a block straddling ``before_s`` is kept whole until its hour has passed); returns the polls
    and readings dropped. Only blocks starting after ``after_s`` less a day are looked at (the previous purge
    stripped the older ones), one primary-key range per device rather than a scan of years of blocks."""
    dropped = 0
    low = after_s - _MAX_SPAN_S if math.isfinite(after_s) else -1
    for (device_id,) in db.execute("SELECT DISTINCT device_id FROM raw_block").fetchall():
        for start, span, data, count in db.execute(
            "SELECT start_s, span_s, data, polls + readings FROM raw_block WHERE device_id = ? AND start_s >= ? "
            "AND start_s < ? AND start_s + span_s <= ? AND polls + readings > 0",
            (device_id, low, before_s, before_s),
        ).fetchall():
            device = raw.name(db, int(device_id))
            energy = raw.decode(db, device, bytes(data)).energy
            raw.store_block(db, device, int(start), RawBlock([], [], energy), int(span))
            dropped += int(count)
    return dropped
