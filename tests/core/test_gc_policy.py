"""GcPolicy (agent/app/gc_policy.py): no automatic full collection while the agent runs, one every full_every_s at a
site tick, and the collector as before once it stops."""

from __future__ import annotations

import gc
import weakref

from agent.app.gc_policy import OLDEST_THRESHOLD_OFF, GcPolicy
from agent.site.poller import AgentState


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class _Node:
    def __init__(self) -> None:
        self.other: object = None


def test_full_collections_run_at_ticks_on_the_interval_and_free_cycles() -> None:
    before = gc.get_threshold()
    clock = _Clock()
    policy = GcPolicy(full_every_s=3600.0, clock=clock)
    gc.disable()  # no automatic young collection in between: only the policy's may free the cycle
    try:
        assert gc.get_threshold() == (before[0], before[1], OLDEST_THRESHOLD_OFF)
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a reference cycle: only the cyclic collector frees it
        freed = weakref.ref(a)
        del a, b
        state = AgentState()
        clock.t += 1800.0
        policy.on_site(None, state)  # type: ignore[arg-type]
        assert policy.full_collections == 0
        assert freed() is not None
        clock.t += 1800.0
        policy.on_site(None, state)  # type: ignore[arg-type]
        assert policy.full_collections == 1
        assert freed() is None  # the cycle is gone
        policy.on_site(None, state)  # type: ignore[arg-type]
        assert policy.full_collections == 1  # not again until another interval has passed
    finally:
        gc.enable()
        policy.close()
    assert gc.get_threshold() == before
