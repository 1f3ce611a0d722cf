"""The config client the services read configuration with (config.md 2.5, 5.3).

Reads go to the configuration service (ours, or KAZOO's sysconf) as sysconf ``get_req`` messages (never to the store
directly), so a client sees exactly what KAZOO's sysconf would answer --
node, zone and default sections, account strategies, and the write-back of
the caller's default -- and works beside a KAZOO cluster.  Results are cached
per ``(category, key path, node, account, strategy)``; the caller's default
is not part of the key.

Freshness (the staleness window)
    Each client binds an exclusive, auto-delete queue of its own to
    ``configuration`` (``*.system_config.*.*``, ``*.*.account_config.*``,
    ``*.*.account.*``, ``*.*.database.*``) and to ``sysconf`` (``sysconf.flush``).
    A change made through the configuration service is announced *before* its set_resp is
    sent, and evicts every cached entry of that category; so after a write
    the client serves the old value for at most one event propagation
    (broker delivery + handling: a few milliseconds on loopback, below one
    second on an idle system).  A direct store edit that produced no event is
    picked up after an operator ``flush`` of the category, or at the latest
    when the safety TTL runs out (``system_ttl`` / ``account_ttl`` /
    ``not_found_ttl``, 900 s each by default).  After a reconnect to the broker
    everything cached is dropped (the transport's ``on_reconnect``), because
    events may have been missed.  How long a change took to get here is observed in
    ``kzvoice_config_propagation_seconds{app="<the bus's App-Name>"}`` for each
    change its announcer stamped (services.config.propagation).

Failures
    If the configuration service does not answer within ``request_timeout`` (2 s), or the bus
    is down, the last cached value is used if there is one (even past its
    TTL), else the caller's default -- nothing is written back then -- and one
    warning is logged.

Typed getters follow KAZOO's coercions, except that where KAZOO would crash
on a bad stored value they return the caller's default and log a warning.
Send defaults with the JSON type the key is meant to have (``100``, not
``"100"``): the configuration service may store them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from services import exchanges as x
from services.bus import BusError, unique_queue_name
from services.config import coerce
from services.config.paths import MISSING, Path, to_path, to_wire_key
from services.config.propagation import age_seconds
from services.messages import catalogue
from services.messages.spec import Message
from services.store import layout

log = logging.getLogger(__name__)

UNDEFINED = "undefined"
STRATEGIES = ("account", "global", "reseller", "hierarchy_merge")
EVENT_BINDINGS = ("*.system_config.*.*", "*.*.account_config.*", "*.*.account.*", "*.*.database.*")
ACCOUNT_CONFIG_PREFIX = "configs_"

Key = str | list[str] | tuple[str, ...]
CacheKey = tuple[str, Path, str, "str | None", "str | None"]


@dataclass
class _Entry:
    value: Any            # raw result; MISSING for "undefined"
    expires: float


@dataclass
class ClientStats:
    hits: int = 0
    misses: int = 0
    requests: int = 0
    timeouts: int = 0
    evictions: int = 0


class ConfigClient:
    """Cached, event-invalidated reads of KAZOO configuration over the bus.

    ``bus`` is the owning service's :class:`services.bus.Bus`; ``node`` is sent
    as ``Node`` in every request (sysconf looks in that node's section
    first) and defaults to the bus's node.
    """

    def __init__(self, bus, *, node: str | None = None, request_timeout: float = 2.0,
                 system_ttl: float = 900.0, account_ttl: float = 900.0, not_found_ttl: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._bus = bus
        self.node = node or bus.node
        self.request_timeout = request_timeout
        self.system_ttl = system_ttl
        self.account_ttl = account_ttl
        self.not_found_ttl = not_found_ttl
        self._clock = clock
        self._cache: dict[CacheKey, _Entry] = {}
        self._in_flight: dict[CacheKey, asyncio.Future] = {}
        self._generation = 0
        # after a reconnect, change events may have been missed: drop everything
        self._stop_listening: Callable[[], None] | None = bus.transport.on_reconnect(self._reconnected)
        self._replies = None
        self._events = None
        self.stats = ClientStats()
        metrics = getattr(bus, "metrics", None)
        self._propagation = (metrics.config_propagation.labels(getattr(bus, "app_name", "") or "unknown")
                             if metrics is not None else None)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> "ConfigClient":
        self._replies = await self._bus.reply_queue("config-client")
        events = await self._bus.consumer(unique_queue_name("config-events"), exclusive=True, auto_delete=True)
        for binding in EVENT_BINDINGS:
            await events.bind(x.CONFIGURATION, binding)
        await events.bind(x.SYSCONF, x.SYSCONF_FLUSH_KEY)
        for spec in catalogue.DOC_CHANGES.values():
            events.on(spec, self._on_change)
        events.on(catalogue.get("sysconf.flush_req"), self._on_flush)
        await events.start(exclusive=True)
        self._events = events
        return self

    async def close(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        if self._events is not None:
            await self._events.stop(drain_timeout=1.0)
            self._events = None
        if self._replies is not None:
            await self._replies.close()
            self._replies = None

    @property
    def ready(self) -> bool:
        return self._events is not None and self._events.running

    # -- raw reads ---------------------------------------------------------------------

    async def get(self, category: str, key: Key, default: Any = None, *, account: str | None = None,
                  strategy: str | None = None) -> Any:
        """The raw value (no coercion); ``default`` when missing (``None`` if not given)."""
        value = await self.resolve(category, key, default if default is not None else MISSING,
                                   account=account, strategy=strategy)
        return None if value is MISSING else value

    async def resolve(self, category: str, key: Key, default: Any = MISSING, *, account: str | None = None,
                      strategy: str | None = None) -> Any:
        """The raw value with the default substituted; ``MISSING`` when missing and no default."""
        path = to_path(key)
        if strategy is not None and strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
        account_id = _account_id(account)
        if account_id is None:
            if strategy == "account":
                return default              # no account: the account strategy has nothing but the default
            strategy = None                 # the other strategies read the system config without an account
        elif strategy is None:
            strategy = "global"
        cache_key: CacheKey = (category, path, self.node, account_id, strategy)
        value = await self._lookup(cache_key, default)
        return default if value is MISSING else value

    async def _lookup(self, cache_key: CacheKey, default: Any) -> Any:
        entry = self._cache.get(cache_key)
        if entry is not None and entry.expires > self._clock():
            self.stats.hits += 1
            return entry.value
        self.stats.misses += 1
        pending = self._in_flight.get(cache_key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._in_flight[cache_key] = future
        try:
            value = await self._fetch(cache_key, default, stale=entry)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()          # retrieved: waiters get it, nobody else should see a warning
            raise
        finally:
            self._in_flight.pop(cache_key, None)

    async def _fetch(self, cache_key: CacheKey, default: Any, *, stale: _Entry | None) -> Any:
        category, path, node, account_id, strategy = cache_key
        fields: dict[str, Any] = {"Category": category, "Key": to_wire_key(path), "Node": node}
        if default is not MISSING and default is not None:
            fields["Default"] = default
        if account_id is not None:
            fields["Account-ID"] = account_id
            fields["Strategy"] = strategy or "global"
        generation = self._generation
        self.stats.requests += 1
        try:
            if self._replies is None:
                raise BusError("config client is not started")
            reply = await self._replies.request(catalogue.get("sysconf.get_req"), fields,
                                                timeout=self.request_timeout)
        except (BusError, asyncio.TimeoutError) as exc:
            self.stats.timeouts += 1
            if stale is not None:
                log.warning("config %s %s: %s; using the cached value", category, list(path), exc)
                return stale.value
            log.warning("config %s %s: %s; using the caller's default", category, list(path), exc)
            return MISSING
        value = reply.get("Value", MISSING)
        if value == UNDEFINED:
            value = MISSING
        if generation == self._generation:          # no invalidation while the request was out
            self._cache[cache_key] = _Entry(value, self._clock() + self._ttl(account_id, value))
        return value

    def _ttl(self, account_id: str | None, value: Any) -> float:
        if value is MISSING:
            return self.not_found_ttl
        return self.account_ttl if account_id is not None else self.system_ttl

    # -- typed getters (config.md 2.5) -----------------------------------------------------

    async def get_is_true(self, category: str, key: Key, default: Any = MISSING, **where) -> bool | None:
        """True iff the value is JSON true or the string "true"; None when missing with no default."""
        v = await self.resolve(category, key, default, **where)
        return None if v is MISSING else coerce.is_true(v)

    async def get_is_false(self, category: str, key: Key, default: Any = MISSING, **where) -> bool | None:
        v = await self.resolve(category, key, default, **where)
        return None if v is MISSING else coerce.is_false(v)

    async def get_boolean(self, category: str, key: Key, default: Any = MISSING, **where) -> Any:
        v = await self.resolve(category, key, default, **where)
        return self._coerced(category, key, lambda: coerce.to_boolean(v, default), default)

    async def get_integer(self, category: str, key: Key, default: Any = MISSING, **where) -> Any:
        v = await self.resolve(category, key, default, **where)
        if v is MISSING:
            return None if default is MISSING else default
        return self._coerced(category, key, lambda: coerce.to_integer(v), default)

    async def get_non_neg_integer(self, category: str, key: Key, default: Any = MISSING, **where) -> Any:
        v = await self.resolve(category, key, default, **where)
        return _none(coerce.to_non_neg_integer(v, default))

    async def get_pos_integer(self, category: str, key: Key, default: Any = MISSING, **where) -> Any:
        v = await self.resolve(category, key, default, **where)
        return _none(coerce.to_pos_integer(v, default))

    async def get_ne_binary(self, category: str, key: Key, default: Any = MISSING, **where) -> Any:
        v = await self.resolve(category, key, default, **where)
        return self._coerced(category, key, lambda: coerce.to_ne_binary(v, default), default)

    async def get_binary(self, category: str, key: Key, default: Any = MISSING, **where) -> Any:
        v = await self.resolve(category, key, default, **where)
        return self._coerced(category, key, lambda: coerce.to_binary(v, default), default)

    async def get_ne_binaries(self, category: str, key: Key, default: Any = MISSING, **where) -> Any:
        v = await self.resolve(category, key, default, **where)
        if where.get("account") is not None:
            return _none(coerce.to_account_ne_binaries(v, default))
        return self._coerced(category, key, lambda: coerce.to_ne_binaries(v, default), default)

    async def get_json(self, category: str, key: Key, default: Any = MISSING, **where) -> Any:
        v = await self.resolve(category, key, default, **where)
        return _none(coerce.to_json(v, default))

    def _coerced(self, category: str, key: Key, convert: Callable[[], Any], default: Any) -> Any:
        try:
            return _none(convert())
        except coerce.BadValue as exc:
            log.warning("config %s %s: %s; using the default %r", category, key, exc,
                        None if default is MISSING else default)
            return _none(default)

    # -- invalidation (config.md 5.3) ---------------------------------------------------

    def flush(self, category: str | None = None) -> int:
        """Drop what is cached for ``category`` (everything when None); returns how many entries went."""
        if category is None:
            return self._drop(lambda _k: True)
        return self._drop(lambda k: k[0] == category)

    def _drop(self, predicate: Callable[[CacheKey], bool]) -> int:
        self._generation += 1
        doomed = [k for k in self._cache if predicate(k)]
        for k in doomed:
            del self._cache[k]
        self.stats.evictions += len(doomed)
        return len(doomed)

    def _reconnected(self) -> None:
        """Change events may have been missed while the connection was down."""
        dropped = self.flush()
        log.info("bus reconnected: dropped %d cached config entries", dropped)

    def apply_change(self, body: Any) -> int:
        """Evict what a ``configuration`` event makes stale; returns how many entries went."""
        name = body.get("Event-Name", "")
        database = body.get("Database") or ""
        doc_id = body.get("ID") or ""
        doc_type = body.get("Type")
        if name.startswith("doc_"):
            if _raw_db(database) == layout.SYSTEM_CONFIG_DB:
                return self._drop(lambda k: k[0] == doc_id)
            if doc_type == "account_config" or doc_id.startswith(ACCOUNT_CONFIG_PREFIX):
                category = doc_id[len(ACCOUNT_CONFIG_PREFIX):]
                return self._drop(lambda k: k[0] == category and k[3] is not None)
            if doc_type == "account":
                return self._drop(lambda k: k[3] is not None)
            return 0
        if name == "db_deleted":
            parts = layout.parse_account_db(database) if database else None
            if parts is not None and parts[1] is None:
                return self._drop(lambda k: k[3] == parts[0])
        return 0

    async def _on_change(self, message: Message) -> None:
        dropped = self.apply_change(message)
        self._observe_propagation(message)
        if dropped:
            log.debug("%s %s/%s: dropped %d cached config entries", message.get("Event-Name"),
                      message.get("Database"), message.get("ID"), dropped)

    async def _on_flush(self, message: Message) -> None:
        dropped = self.flush(message["Category"])
        self._observe_propagation(message)
        log.info("flush_req for %s: dropped %d cached config entries", message["Category"], dropped)

    def _observe_propagation(self, message: Message) -> None:
        """``kzvoice_config_propagation_seconds{app}`` for a change stamped by its announcer, now
        that nothing stale is left in this cache (services.config.propagation)."""
        if self._propagation is None:
            return
        age = age_seconds(message.headers)
        if age is not None:
            self._propagation.observe(age)


def _none(value: Any) -> Any:
    return None if value is MISSING else value


def _raw_db(name: str) -> str:
    try:
        return layout.normalize_db_name(name)
    except layout.InvalidName:
        return name


def _account_id(account: str | None) -> str | None:
    """The raw account id (any of the accepted forms); a value naming no account is passed on as
    given, and sysconf then answers as for "no account" (config.md 2.3)."""
    if not account:
        return None
    try:
        return layout.to_account_id(account)
    except layout.InvalidName:
        return account
