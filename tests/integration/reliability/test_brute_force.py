"""1,000 wrong PINs over 100 calls trigger the cross-call lockout; the owner gets in afterwards.

Every service runs (real broker, memory store).  The attacker calls the check line of box
"3456" (PIN 1234) from a phone of the account that is not the owner's, 100 times, and types
10 wrong PINs per call (``voicemail.max_login_attempts`` 10).
The lockout (voicemail_svc/lockout.py) is configured short for the test: 6 failures lock the
box for 2 s, doubling up to 4 s.  In the middle of the attack the right PIN is tried while
the box is locked: it is refused.  After the attack the owner waits out the lock and logs in.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway_sim import Script
from services.store.memory import MemoryStore
from tests.support.reliability import (FAST_CALL_COMMAND, PIN, Cluster, Site, seed_site, set_system_config,
                                       wait_until)
from voicemail_svc.check.lockout import doc_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOCKOUT = {"max_failures": 6, "lockout_seconds": 2, "backoff_factor": 2, "max_lockout_seconds": 4}
LOGGED_IN = ("vm-you_have", "vm-main_menu", "vm-no_messages")


async def test_1000_wrong_pins_over_100_calls_lock_the_box_and_the_owner_gets_in_after_the_backoff(
        amqp_url, tmp_path):
    store = MemoryStore()
    site = Site("brute")
    await store.init_db()
    await set_system_config(store, "call_command", FAST_CALL_COMMAND)
    await set_system_config(store, "callflow", {"voicemail": {"max_login_attempts": 10,
                                                              "login_lockout": LOCKOUT}})
    await seed_site(store, site)
    cluster = await Cluster(amqp_url, store, tmp_path).start()
    try:
        gw = cluster.gateway

        def guesses(pin: str) -> Script:
            return Script().on_prompt("vm-enter_pass", press=f"{pin}#", times=None)

        async def attack_call(n: int):
            wrong = f"{(5000 + n) % 10000:04d}"
            assert wrong != PIN
            return await gw.place_call(endpoint=site.endpoint(), dial="*97", script=guesses(wrong))

        made = refused_right = 0
        started = time.monotonic()
        for first in range(0, 100, 5):                  # 5 attackers at a time
            batch = asyncio.gather(*(attack_call(n) for n in range(first, first + 5)))
            if first == 50:                             # the right PIN, typed while the box is locked
                pressure = await _until_locked_for_a_second(store, site, attack_call)
                right = await gw.place_call(endpoint=site.endpoint(), dial="*97",
                                            script=Script().on_prompt("vm-enter_pass", press=f"{PIN}#", times=1)
                                                           .on_prompt("vm-enter_pass", hangup=True))
                assert not any(p.startswith(LOGGED_IN) for p in right.prompts), right.prompts
                assert "vm-fail_auth" in right.prompts
                refused_right += 1
                await asyncio.wait_for(pressure, 60)     # the extra attacker's call in progress ends
            for result in await asyncio.wait_for(batch, 120):
                assert result.ok, result.summary()
                assert not any(p.startswith(LOGGED_IN) for p in result.prompts)
                made += result.prompts.count("vm-enter_pass")
        attack_s = time.monotonic() - started
        assert made == 1000

        guard = await store.get(site.db, doc_id(site.box))
        lockouts = guard["lockouts"]
        checked_at_most = lockouts * LOCKOUT["max_failures"] + guard["failures"]
        assert lockouts >= 2                             # locked, and locked again after the backoff
        assert checked_at_most < 1000 / 2                # most guesses never reached the PIN check
        assert refused_right == 1

        # the owner, from another phone (their own phone needs no PIN): wait out the current lock (at
        # most max_lockout_seconds), then the right PIN works and clears the count
        await asyncio.sleep(LOCKOUT["max_lockout_seconds"] + 0.5)
        owner = await gw.place_call(endpoint=site.endpoint(), dial="*97",
                                    script=Script().on_prompt("vm-enter_pass", press=f"{PIN}#")
                                                   .on_prompt("vm-main_menu", hangup=True)
                                                   .on_prompt("vm-no_messages", hangup=True))
        assert any(p.startswith(LOGGED_IN) for p in owner.prompts), owner.prompts
        await wait_until(lambda: _cleared(store, site), timeout=5, what="the failure count cleared")
        print(f"1000 guesses in {attack_s:.0f} s over 100 calls: {lockouts} lockouts, at most "
              f"{checked_at_most} guesses compared with the PIN; the right PIN during a lock was refused; "
              f"the owner logged in after the backoff")
    finally:
        await cluster.stop()


async def _until_locked_for_a_second(store, site, attack_call) -> asyncio.Task:
    """Wait for a lockout with at least a second left.

    The batch in flight may finish its guesses inside a lock that then runs out, and a box
    nobody attacks is never locked again; so one more attacker at a time keeps guessing (not
    counted in the 1,000) until the lock is seen.  Returns that attacker's task, stopping after
    its call in progress.
    """
    stop = asyncio.Event()

    async def keep_guessing() -> None:
        extra = 0
        while not stop.is_set():
            await attack_call(1000 + extra)
            extra += 1

    pressure = asyncio.create_task(keep_guessing())
    try:
        await wait_until(lambda: _locked_for(store, site, 1.0), timeout=30, step=0.02,
                         what="a lockout with a second left")
    finally:
        stop.set()
    return pressure


async def _locked_for(store, site, seconds: float) -> bool:
    from services.store import layout
    from services.store.interface import NotFound
    try:
        guard = await store.get(site.db, doc_id(site.box))
    except NotFound:
        return False
    until = guard.get("locked_until") or 0
    return bool(until) and until - layout.GREGORIAN_OFFSET - time.time() >= seconds


async def _cleared(store, site) -> bool:
    guard = await store.get(site.db, doc_id(site.box))
    return guard["failures"] == 0 and guard["lockouts"] == 0
