"""Failed voicemail logins counted per box across calls, with a lockout that outlives the call.

KAZOO only limits PIN tries within one call (``max_login_attempts``, 3), so a
caller can guess forever by calling again.  Here (spec README, "Beyond
KAZOO") every wrong PIN for a box is also counted in a small document of the
account database, ``vmbox_login-<box id>`` (``pvt_type``
``vmbox_login_guard``), so every replica sees the same count:

* ``max_failures`` wrong PINs in a row (within ``failure_window_seconds`` of
  each other) lock the box for ``lockout_seconds``; each further lockout
  before a successful login lasts ``backoff_factor`` times longer, up to
  ``max_lockout_seconds``;
* while locked, a PIN is still asked for, but even the right one is refused
  with the same ``vm-fail_auth`` a wrong one gets: the caller learns nothing,
  and the tries do not extend the lock;
* a successful PIN login clears the count and the backoff.

Thresholds come from configuration (``callflow``, system, keys under
``voicemail.login_lockout``; see ``LockoutPolicy.from_config``).  Writes
retry on a revision conflict, so two calls failing at once both count.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from services.store import layout
from services.store.interface import Conflict, NotFound

log = logging.getLogger(__name__)

DOC_PREFIX = "vmbox_login-"
PVT_TYPE = "vmbox_login_guard"
CONFIG_CATEGORY = "callflow"
CONFIG_PATH = ("voicemail", "login_lockout")
WRITE_TRIES = 5


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 6               # wrong PINs in a row before a lockout (two calls' worth)
    lockout_seconds: int = 300          # the first lockout
    backoff_factor: float = 2.0         # each further lockout lasts this much longer
    max_lockout_seconds: int = 86400
    failure_window_seconds: int = 86400 # a failure older than this no longer counts
    enabled: bool = True

    @classmethod
    async def from_config(cls, config) -> "LockoutPolicy":
        """``callflow`` ``voicemail.login_lockout.<field>`` (system), each with the default above."""
        if config is None:
            return cls()
        default = cls()

        async def integer(name: str, fallback: int) -> int:
            return await config.get_integer(CONFIG_CATEGORY, [*CONFIG_PATH, name], fallback)

        factor_raw = await config.get(CONFIG_CATEGORY, [*CONFIG_PATH, "backoff_factor"], default.backoff_factor)
        try:
            factor = max(1.0, float(factor_raw))
        except (TypeError, ValueError):
            factor = default.backoff_factor
        return cls(
            max_failures=await integer("max_failures", default.max_failures),
            lockout_seconds=await integer("lockout_seconds", default.lockout_seconds),
            backoff_factor=factor,
            max_lockout_seconds=await integer("max_lockout_seconds", default.max_lockout_seconds),
            failure_window_seconds=await integer("failure_window_seconds", default.failure_window_seconds),
            enabled=bool(await config.get_is_true(CONFIG_CATEGORY, [*CONFIG_PATH, "enabled"], True)),
        )

    def lock_duration(self, lockouts_before: int) -> int:
        seconds = self.lockout_seconds * (self.backoff_factor ** max(0, lockouts_before))
        return int(min(seconds, self.max_lockout_seconds))


@dataclass(frozen=True)
class GuardState:
    failures: int = 0
    lockouts: int = 0
    locked_until: float = 0.0        # Unix seconds
    last_failure: float = 0.0

    def locked(self, now: float) -> bool:
        return self.locked_until > now


def doc_id(box_id: str) -> str:
    return f"{DOC_PREFIX}{box_id}"


def _state(doc: dict[str, Any]) -> GuardState:
    def number(key: str) -> float:
        value = doc.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

    return GuardState(failures=int(number("failures")), lockouts=int(number("lockouts")),
                      locked_until=number("locked_until") - layout.GREGORIAN_OFFSET
                      if number("locked_until") else 0.0,
                      last_failure=number("last_failure") - layout.GREGORIAN_OFFSET
                      if number("last_failure") else 0.0)


class LoginGuard:
    """Reads and updates the cross-call login state of boxes in one store."""

    def __init__(self, store, policy: LockoutPolicy | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.policy = policy or LockoutPolicy()
        self.clock = clock

    async def _load(self, db: str, box_id: str) -> dict[str, Any] | None:
        try:
            return await self.store.get(db, doc_id(box_id))
        except NotFound:
            return None

    async def state(self, db: str, box_id: str) -> GuardState:
        doc = await self._load(db, box_id)
        return GuardState() if doc is None else _state(doc)

    async def is_locked(self, db: str, box_id: str) -> bool:
        if not self.policy.enabled:
            return False
        return (await self.state(db, box_id)).locked(self.clock())

    async def record_failure(self, db: str, box_id: str) -> GuardState:
        """Count one wrong PIN; may start a lockout.  Tries during a lockout change nothing."""
        if not self.policy.enabled:
            return GuardState()
        policy = self.policy

        def update(current: GuardState, now: float) -> GuardState | None:
            if current.locked(now):
                return None
            failures = current.failures
            if current.last_failure and now - current.last_failure > policy.failure_window_seconds:
                failures = 0
            failures += 1
            if failures >= policy.max_failures > 0:
                until = now + policy.lock_duration(current.lockouts)
                log.warning("voicemail box %s locked for %d s after %d failed logins", box_id,
                            until - now, failures)
                return GuardState(failures=0, lockouts=current.lockouts + 1, locked_until=until, last_failure=now)
            return GuardState(failures=failures, lockouts=current.lockouts, locked_until=current.locked_until,
                              last_failure=now)

        return await self._write(db, box_id, update)

    async def record_success(self, db: str, box_id: str) -> None:
        """A PIN login succeeded: forget the failures and the backoff."""
        if not self.policy.enabled:
            return

        def update(current: GuardState, now: float) -> GuardState | None:
            if current == GuardState():
                return None
            return GuardState()

        await self._write(db, box_id, update)

    async def _write(self, db: str, box_id: str,
                     update: Callable[[GuardState, float], GuardState | None]) -> GuardState:
        for _ in range(WRITE_TRIES):
            doc = await self._load(db, box_id)
            current = GuardState() if doc is None else _state(doc)
            now = self.clock()
            new = update(current, now)
            if new is None:
                return current
            body: dict[str, Any] = {"_id": doc_id(box_id), "box_id": box_id, "failures": new.failures,
                                    "lockouts": new.lockouts,
                                    "locked_until": _gregorian(new.locked_until),
                                    "last_failure": _gregorian(new.last_failure)}
            if doc is not None:
                body["_rev"] = doc["_rev"]
                if doc.get("pvt_created"):
                    body["pvt_created"] = doc["pvt_created"]
            layout.stamp(body, pvt_type=PVT_TYPE, db=db)
            try:
                await self.store.put(db, body)
                return new
            except Conflict:
                continue
        log.warning("voicemail box %s: login state not written after %d conflicting tries", box_id, WRITE_TRIES)
        return GuardState()


def _gregorian(unix: float) -> int:
    return int(unix) + layout.GREGORIAN_OFFSET if unix else 0
