"""The configuration callflow_svc reads, with KAZOO's categories, keys, getters and defaults.

One method per setting, so the keys and defaults are written once.  The
source is the shared config client (``services.config.client.ConfigClient``:
sysconf over the bus, cached, flushed on change events); tests may give any
object with the same getters.

The routing path reads some settings on every route_req.  A value the client
served from its cache is kept here too, for at most ``MEMO_SECONDS``, and only
while the client has dropped nothing since (its ``stats.evictions``): a change
event, a flush or a broker reconnect (the client flushes everything) is seen by
the very next read, as with the client alone.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Mapping

from services.routing.numbers import DEFAULT_CONVERTERS, DEFAULT_RECONCILE_REGEX

CATEGORY = "callflow"
SESSION_IDLE_TIMEOUT_S = 3600
MEMO_SECONDS = 1.0
MEMO_ENTRIES = 10_000


class CallflowConfig:
    def __init__(self, client, *, clock: Callable[[], float] = time.monotonic,
                 memo_seconds: float = MEMO_SECONDS) -> None:
        self._client = client
        self._clock = clock
        self._memo_seconds = memo_seconds
        self._memo: dict[tuple, tuple[Any, float, int]] = {}     # key -> (value, until, client evictions)

    async def _memo_read(self, key: tuple, read: Callable[[], Awaitable[Any]]) -> Any:
        stats = getattr(self._client, "stats", None)
        if stats is None:
            return await read()
        now = self._clock()
        hit = self._memo.get(key)
        if hit is not None and hit[1] > now and hit[2] == stats.evictions:
            return hit[0]
        misses, evictions = stats.misses, stats.evictions
        value = await read()
        if stats.misses == misses and stats.evictions == evictions:    # all from the client's cache
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = (value, now + self._memo_seconds, evictions)
        return value

    # callflow.md 3.2, config.md 6.1
    async def route_win_timeout_ms(self) -> int:
        return await self._memo_read(("route_win_timeout",), lambda: self._client.get_integer(
            CATEGORY, "route_win_timeout", 3000))

    # callflow.md 3.1 Pre-Park
    async def ring_ready_offnet(self) -> bool:
        return bool(await self._memo_read(("ring_ready_offnet",), lambda: self._client.get_is_true(
            CATEGORY, "ring_ready_offnet", True)))

    # callflow.md 3.4 branch budget
    async def max_branch_count(self) -> int:
        return await self._client.get_integer(CATEGORY, "max_branch_count", 50)

    # ours: a running call with no event and no command for this long is presumed abandoned
    # (the gateway vanished without CHANNEL_DESTROY) and ended; 0 turns the reaper off
    async def session_idle_timeout_s(self) -> int:
        return await self._client.get_integer(CATEGORY, "session_idle_timeout", SESSION_IDLE_TIMEOUT_S)

    # callflow.md 3.7 play
    async def post_answer_delay_ms(self) -> int:
        return await self._client.get_integer(CATEGORY, "post_answer_delay", 100)

    # callflow.md 2.6 item 4
    async def allow_authz_context_overrides(self) -> bool:
        return bool(await self._client.get_is_true(CATEGORY, "allow_authz_context_overrides", False))

    async def authz_contexts(self) -> list[str]:
        value = await self._client.get_ne_binaries(CATEGORY, "authz_contexts", [])
        if isinstance(value, str):
            return [value]
        return list(value) if isinstance(value, list) else []

    # callflow.md 2.1 item 5
    async def reconcile_regex(self) -> str:
        return await self._memo_read(("reconcile_regex",), lambda: self._client.get_ne_binary(
            "number_manager", "reconcile_regex", DEFAULT_RECONCILE_REGEX))

    # callflow.md 2.3 step 4: account-global strategy
    async def e164_converters(self, account_id: str) -> Mapping[str, Any]:
        value = await self._memo_read(("e164_converters", account_id), lambda: self._client.get(
            "number_manager", "e164_converters", dict(DEFAULT_CONVERTERS), account=account_id, strategy="global"))
        return value if isinstance(value, dict) else DEFAULT_CONVERTERS

    # callflow.md 3.3 language, step 2
    async def prompt_language(self, account_id: str, account_doc: Mapping[str, Any] | None) -> str:
        system = await self._client.get_ne_binary("media", "default_language", "en-us")
        if await self._client.get_is_true("media", "support_account_overrides", True):
            value = await self._client.get("media", "default_language", account=account_id, strategy="account")
            if isinstance(value, str) and value:
                return value
            language = (account_doc or {}).get("language")
            if isinstance(language, str) and language:
                return language
        return system if isinstance(system, str) and system else "en-us"
