"""Routed calls waiting for their route_win (callflow_svc.calls: expect_win, take_win, the sweep)."""

import asyncio

import pytest

from callflow_svc.call import Call
from callflow_svc.calls import Calls, PendingWin
from services.routing.lookup import Found


def pending(call_id: str) -> PendingWin:
    req = {"Call-ID": call_id, "Custom-Channel-Vars": {"Account-ID": "a" * 32}}
    return PendingWin(Call.from_route_req(req, request_user="2000"), Found({"_id": "cf"}), {}, fetch_id=call_id)


@pytest.fixture
async def calls():
    registry = Calls(consumer=None, deps=None)
    yield registry
    await registry.drain(0)


async def test_a_win_inside_the_timeout_is_taken_once(calls):
    win = pending("c1")
    calls.expect_win(win, 0.2)
    assert calls.take_win("c1") is win
    assert calls.take_win("c1") is None


async def test_expired_calls_are_forgotten_by_one_sweep(calls):
    for n in range(50):
        calls.expect_win(pending(f"c{n}"), 0.05)
    assert len(calls.pending) == 50
    await asyncio.sleep(0.15)
    assert calls.pending == {}
    assert calls.take_win("c0") is None


async def test_a_shortened_timeout_is_honoured_behind_a_longer_one(calls):
    calls.expect_win(pending("long"), 0.5)
    calls.expect_win(pending("short"), 0.05)     # the timeout was lowered in between
    await asyncio.sleep(0.1)
    # the sweep has not reached it (it waits for "long" at the front), but its win is too late
    assert calls.take_win("short") is None
    assert calls.take_win("long") is not None


async def test_a_repeated_route_req_replaces_the_pending_call(calls):
    first, second = pending("c1"), pending("c1")
    calls.expect_win(first, 0.05)
    calls.expect_win(second, 0.5)
    await asyncio.sleep(0.1)
    assert calls.take_win("c1") is second


async def test_drain_cancels_the_sweep(calls):
    calls.expect_win(pending("c1"), 10)
    assert await calls.drain(0)
    assert calls.pending == {} and calls._sweep is None
