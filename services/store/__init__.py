"""The document store: KAZOO's CouchDB layout behind one async interface.

``open_store(url)`` picks the backend from ``KZ_STORE_URL``'s value:

* ``sqlite:///relative/path`` or ``sqlite:////absolute/path``: embedded SQLite (default);
* ``memory://``: dicts, gone at exit;
* ``http(s)://user:pass@host:port``: CouchDB (or pouchdb-server).

Use it either way::

    async with open_store(url) as store:
        ...

    store = await open_store(url)
    try: ...
    finally: await store.close()

See :mod:`services.store.interface` for the methods and ``docs/store.md``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from .interface import (
    BadRequest,
    BulkResult,
    Conflict,
    DatabaseNotFound,
    NotFound,
    Store,
    StoreError,
    Unavailable,
)

__all__ = [
    "BadRequest",
    "BulkResult",
    "Conflict",
    "DatabaseNotFound",
    "NotFound",
    "Store",
    "StoreError",
    "Unavailable",
    "open_store",
]


async def _open(url: str) -> Store:
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        return await SQLiteStore.open(url)
    if url.startswith("memory:"):
        from .memory import MemoryStore

        return MemoryStore()
    if url.startswith(("http://", "https://")):
        from .couch import CouchStore

        return await CouchStore.open(url)
    raise BadRequest(f"unknown store URL scheme: {url.split(':', 1)[0]!r} "
                     "(expected sqlite:///PATH, memory:// or http(s)://)")


class _Opening:
    """What :func:`open_store` returns: await it for the store, or use it with
    ``async with`` to have the store closed at the end of the block."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._store: Store | None = None

    def __await__(self) -> Generator[Any, None, Store]:
        return _open(self._url).__await__()

    async def __aenter__(self) -> Store:
        self._store = await _open(self._url)
        return self._store

    async def __aexit__(self, *exc_info: object) -> None:
        if self._store is not None:
            await self._store.close()


def open_store(url: str) -> _Opening:
    """The store named by ``url`` (``Settings.store_url``)."""
    return _Opening(url)
