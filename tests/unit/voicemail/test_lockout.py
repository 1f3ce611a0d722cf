"""The cross-call login lockout: counting, lockout, backoff, reset, shared through the store."""

from __future__ import annotations

import asyncio

from services.store import layout
from services.store.memory import MemoryStore
from voicemail_svc.check.lockout import LockoutPolicy, LoginGuard, doc_id

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
DB = layout.account_db(ACCOUNT)
BOX = "b" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def guard(policy: LockoutPolicy, clock: Clock, store=None) -> LoginGuard:
    if store is None:
        store = MemoryStore()
        await store.create_db(DB)
    return LoginGuard(store, policy, clock=clock)


async def test_lockout_after_max_failures_and_expiry():
    clock = Clock()
    g = await guard(LockoutPolicy(max_failures=3, lockout_seconds=60), clock)
    for _ in range(2):
        await g.record_failure(DB, BOX)
    assert not await g.is_locked(DB, BOX)
    state = await g.record_failure(DB, BOX)
    assert state.lockouts == 1
    assert await g.is_locked(DB, BOX)
    clock.now += 59
    assert await g.is_locked(DB, BOX)
    clock.now += 2
    assert not await g.is_locked(DB, BOX)


async def test_failures_during_lockout_do_not_extend_it():
    clock = Clock()
    g = await guard(LockoutPolicy(max_failures=1, lockout_seconds=60), clock)
    first = await g.record_failure(DB, BOX)
    clock.now += 30
    again = await g.record_failure(DB, BOX)
    assert again.locked_until == first.locked_until


async def test_backoff_grows_and_is_capped_and_success_resets():
    clock = Clock()
    g = await guard(LockoutPolicy(max_failures=1, lockout_seconds=10, backoff_factor=3, max_lockout_seconds=50),
                    clock)
    durations = []
    for _ in range(3):
        state = await g.record_failure(DB, BOX)
        durations.append(state.locked_until - clock.now)
        clock.now = state.locked_until + 1
    assert durations == [10, 30, 50]
    await g.record_success(DB, BOX)
    state = await g.record_failure(DB, BOX)
    assert state.locked_until - clock.now == 10


async def test_old_failures_expire():
    clock = Clock()
    g = await guard(LockoutPolicy(max_failures=2, failure_window_seconds=100), clock)
    await g.record_failure(DB, BOX)
    clock.now += 101
    state = await g.record_failure(DB, BOX)
    assert state.failures == 1 and not await g.is_locked(DB, BOX)


async def test_state_is_shared_through_the_store_and_counts_concurrent_failures():
    clock = Clock()
    store = MemoryStore()
    await store.create_db(DB)
    policy = LockoutPolicy(max_failures=4)
    one, two = await guard(policy, clock, store), await guard(policy, clock, store)
    await asyncio.gather(one.record_failure(DB, BOX), two.record_failure(DB, BOX), one.record_failure(DB, BOX))
    assert (await two.state(DB, BOX)).failures == 3
    await two.record_failure(DB, BOX)
    assert await one.is_locked(DB, BOX)
    doc = await store.get(DB, doc_id(BOX))
    assert doc["pvt_type"] == "vmbox_login_guard" and doc["locked_until"] > layout.GREGORIAN_OFFSET


async def test_disabled_policy_never_locks():
    clock = Clock()
    g = await guard(LockoutPolicy(max_failures=1, enabled=False), clock)
    await g.record_failure(DB, BOX)
    assert not await g.is_locked(DB, BOX)
