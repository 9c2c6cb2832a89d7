"""GcPolicy (agent/app/gc_policy.py): no automatic collection while the agent runs, a full one every full_every_s at
a site tick (sooner while they find much garbage), and the collector as before once it stops."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from agent.app.gc_policy import MANY_UNREACHABLE, SHORTEST_EVERY_S, GcPolicy
from agent.site.poller import AgentState


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class _Node:
    def __init__(self) -> None:
        self.other: object = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a reference cycle: only the cyclic collector frees it
    return weakref.ref(a)


@pytest.fixture(autouse=True)
def _no_garbage_before() -> Iterator[None]:
    """Each test counts only the garbage it makes: earlier tests in this worker process may have left cycles in the
    old generation, which the policy's first full collection would find (a CI run: 153,797 objects, so the interval
    was halved and the test failed)."""
    gc.collect()
    yield


def test_full_collections_run_at_ticks_on_the_interval_and_free_cycles() -> None:
    was = gc.isenabled()
    clock = _Clock()
    policy = GcPolicy(full_every_s=3600.0, clock=clock)
    try:
        assert not gc.isenabled()  # no automatic collection, young or old, while the agent runs
        freed = _cycle()
        for _ in range(50_000):  # allocations that would have started automatic collections
            _Node()
        assert freed() is not None
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
        assert policy.full_every_s == 3600.0  # one cycle found: the interval stays
    finally:
        policy.close()
    assert gc.isenabled() == was


def test_a_collection_that_finds_much_garbage_shortens_the_interval() -> None:
    clock = _Clock()
    policy = GcPolicy(full_every_s=3600.0, clock=clock)
    try:
        state = AgentState()
        for _ in range(MANY_UNREACHABLE // 2 + 1):  # two objects each
            _cycle()
        clock.t += 3600.0
        policy.on_site(None, state)  # type: ignore[arg-type]
        assert policy.full_every_s == 1800.0
        clock.t += 1800.0
        policy.on_site(None, state)  # type: ignore[arg-type]  # found nothing this time: no shorter
        assert policy.full_collections == 2 and policy.full_every_s == 1800.0
        for _ in range(12):  # a steady source of cycles: halved down to the floor, not below
            for _ in range(MANY_UNREACHABLE // 2 + 1):
                _cycle()
            clock.t += policy.full_every_s
            policy.on_site(None, state)  # type: ignore[arg-type]
        assert policy.full_every_s == SHORTEST_EVERY_S
    finally:
        policy.close()
