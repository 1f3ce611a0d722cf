"""Remembered answers of the media responder: media name -> the attachment it resolved to (media.md 6.2).

A prompt costs two prompt queries and a document read; a running system asks for
the same few dozen names all day.  So the responder keeps what names resolved to
-- never a miss or an error -- and drops **everything** it keeps when a
``configuration`` event says that something a lookup reads has changed (bus.md
3.11): a ``media`` document, an account document, an account's config document,
``system_config``, the ``services`` database, or a database deleted.  Such changes
are rare, and a flush costs a few store reads.

Kept only for names that point at media documents: ``prompt://`` names and the
path forms without an attachment (``/<account>/<media id>``, ``/system_media/...``,
a bare id).  A name with an explicit attachment (``/<db>/<doc>/<attachment>``,
which is how messages are named) is resolved every time, since its document may
be of any type and no event binding here would cover it.

A write that announces nothing (a direct store edit, ``kzvoice import``,
``kzvoice prompts import``) is seen at the latest after ``ttl_s`` (default 300 s).
The Stream-URL is signed afresh for every answer, and the HTTP endpoint reads the
document again on every GET: what this cache can make stale is only which
document a name points at, never the bytes served.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable, Mapping

from services.bus import unique_queue_name
from services.exchanges import CONFIGURATION
from services.media.audio import Place
from services.messages import catalogue as m

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 300.0
MAX_ENTRIES = 20_000

# doc_<action>.<db>.<type>.<id> and db_<action>.<db>.database.<db> on the configuration exchange
EVENT_BINDINGS = ("*.*.media.*", "*.*.account.*", "*.*.account_config.*", "*.system_config.*.*",
                  "*.services.*.*", "db_deleted.*.database.*")
_TYPES = frozenset(("media", "account", "account_config"))
_DATABASES = frozenset(("system_config", "services", "system_media"))


def flushes(event: Mapping[str, Any]) -> bool:
    """Whether a configuration event may change what a media name resolves to."""
    name = event.get("Event-Name") or ""
    if name == "db_deleted":
        return True
    return name.startswith("doc_") and (event.get("Type") in _TYPES or event.get("Database") in _DATABASES)


async def consume_changes(bus, prefix: str, handler: Callable[[Any], Awaitable[None]]):
    """A started consumer of a queue of this process's own (``prefix``-<unique>) that hands
    ``handler`` every configuration event that :func:`flushes` what media names resolve to."""
    async def flushing(message) -> None:
        if flushes(message):
            await handler(message)

    events = await bus.consumer(unique_queue_name(prefix), exclusive=True, auto_delete=True)
    for binding in EVENT_BINDINGS:
        await events.bind(CONFIGURATION, binding)
    for spec in m.DOC_CHANGES.values():
        events.on(spec, flushing)
    await events.start(exclusive=True)
    return events


class Answers:
    def __init__(self, *, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[Place, float]] = {}
        self.generation = 0          # moves on every flush: a lookup begun before one is not kept
        self.hits = 0
        self.flushes = 0

    def get(self, media_name: str) -> Place | None:
        entry = self._entries.get(media_name)
        if entry is None:
            return None
        place, expires = entry
        if expires <= self._clock():
            del self._entries[media_name]
            return None
        self.hits += 1
        return place

    def keep(self, media_name: str, place: Place, *, generation: int) -> None:
        """Remember a found answer, unless a flush happened since ``generation`` was read."""
        if generation != self.generation or self.ttl_s <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[media_name] = (place, self._clock() + self.ttl_s)

    def flush(self, why: str) -> int:
        dropped = len(self._entries)
        self._entries.clear()
        self.generation += 1
        self.flushes += 1
        if dropped:
            log.debug("media answers flushed (%d): %s", dropped, why)
        return dropped

    def __len__(self) -> int:
        return len(self._entries)
