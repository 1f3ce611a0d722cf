"""``http(s)://user:pass@host:port``: KAZOO's own CouchDB (or any CouchDB-API server).

The connection, its authentication (cookie when the URL has credentials) and the
mapping of HTTP statuses to errors come from couchdb3's async client.  Requests are
addressed by this module, though: couchdb3 3.5 neither URL-encodes database names
nor accepts encoded ones, and every KAZOO account database has ``/`` in its name.
So each request goes through :meth:`CouchStore._send`, which percent-encodes the
database name, document id and attachment name and hands the path to couchdb3.

Connection failures are retried with tenacity: a failure to connect for any
request, a broken response only for reads.  HTTP errors (a 409 conflict above all)
are never retried.

Queries are views in the design document ``_design/kzvoice``
(:mod:`services.store.views`), installed by :meth:`ensure_views`; the first query
in a database in a process also checks it is there and current.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from couchdb3 import exceptions as couch_errors
from couchdb3.aio import AsyncServer
from couchdb3.utils import check_response
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential

from . import views
from .interface import (
    ALL_KEYS,
    AttachmentData,
    BadRequest,
    BulkResult,
    Conflict,
    DatabaseNotFound,
    NotFound,
    Store,
    StoreError,
    Unavailable,
    ViewRow,
    db_name,
)

_DB_MISSING_REASONS = ("Database does not exist.", "no_db_file")

# Whatever never reached the server can be sent again; a read can be repeated after
# a broken response too.  A write whose response was lost is not repeated: it may
# have been applied, and repeating it would turn success into a conflict.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_BROKEN_RESPONSE = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)
_READS = ("GET", "HEAD")

# pouchdb-server passes database names through a filename sanitiser that drops "/"
# (account/ab/cd/... is kept, and listed by _all_dbs, as accountabcd...).  Requests
# by name still round-trip; only the listing needs the slashes put back.
_POUCHDB_ACCOUNT_NAME = re.compile(r"^account([a-z0-9]{2})([a-z0-9]{2})([a-z0-9]{28})(-\d{6})?$")


def _segment(text: str) -> str:
    return quote(text, safe="")


def _doc_path(db: str, doc_id: str, attachment: str | None = None) -> str:
    path = f"{_segment(db)}/{_segment(doc_id)}"
    return path if attachment is None else f"{path}/{_segment(attachment)}"


def _design_path(db: str) -> str:
    return f"{_segment(db)}/_design/{views.DESIGN_NAME}"


def _reason(exc: Exception) -> str:
    try:
        return str(json.loads(str(exc)).get("reason", ""))
    except (ValueError, AttributeError):
        return str(exc)


class _PreconditionFailed(BadRequest):
    """HTTP 412: the database exists already, or a stub names an attachment the
    document does not have."""


def _translate(exc: couch_errors.CouchDBError, what: str) -> StoreError:
    reason = _reason(exc)
    if isinstance(exc, couch_errors.NotFoundError):
        if reason in _DB_MISSING_REASONS:
            return DatabaseNotFound(f"{what}: no such database")
        return NotFound(f"{what}: not found ({reason})")
    if isinstance(exc, couch_errors.ConflictError):
        return Conflict(f"{what}: update conflict")
    if isinstance(exc, couch_errors.PreconditionFailedError):
        return _PreconditionFailed(f"{what}: {reason}")
    if isinstance(exc, couch_errors.BadRequestError):
        return BadRequest(f"{what}: {reason}")
    return StoreError(f"{what}: {type(exc).__name__}: {reason}")


class CouchStore(Store):
    def __init__(self, url: str, *, timeout: float = 30.0, retry_attempts: int = 6,
                 retry_seconds: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest(f"{_redact(url)}: expected http(s)://user:pass@host:port")
        if parts.path not in ("", "/"):
            raise BadRequest(f"{_redact(url)}: a path after the host is not supported")
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        base = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._label = base
        self._server = AsyncServer(
            base,
            user=user,
            password=password,
            # Cookie authentication needs credentials; a server without an admin
            # ("admin party") is reached with none.
            auth_method="cookie" if user and password else "basic",
            timeout=timeout,
        )
        self._retry_attempts = retry_attempts
        self._retry_seconds = retry_seconds
        self.server_kind = "couchdb"  # or "pouchdb-server", whose quirks some code works around
        self._views_current: set[str] = set()
        self._closed = False

    @classmethod
    async def open(cls, url: str, **options: Any) -> "CouchStore":
        store = cls(url, **options)
        try:
            welcome = (await store._send("GET", "", what="server")).json()
        except BaseException:
            await store.close()
            raise
        if "express-pouchdb" in welcome:
            store.server_kind = "pouchdb-server"
        return store

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._server.aclose()

    # --- HTTP ----------------------------------------------------------------------

    def _retrying(self, method: str) -> AsyncRetrying:
        retryable = _NOT_SENT + (_BROKEN_RESPONSE if method in _READS else ())
        return AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, retryable)),
            stop=stop_after_attempt(self._retry_attempts) | stop_after_delay(self._retry_seconds),
            wait=wait_exponential(multiplier=0.1, max=2.0),
            reraise=True,
        )

    async def _send(self, method: str, path: str, *, what: str, params: dict | None = None,
                    body: Any = None, content: Any = None, headers: dict | None = None) -> httpx.Response:
        """One request to ``path`` (already percent-encoded).  ``body`` is sent as JSON;
        ``content`` as is.  couchdb3 adds authentication and raises its error for an
        HTTP error status, which becomes ours here."""
        if self._closed:
            raise StoreError("store is closed")
        extra: dict[str, Any] = {}
        if body is not None:
            extra["content"] = _json_bytes(body)
            extra["headers"] = {"Content-Type": "application/json"}
        elif content is not None:
            extra["content"] = content
            extra["headers"] = headers or {}
        try:
            try:
                return await self._request_with_retries(method, path, params, extra)
            except couch_errors.UnauthorizedError:
                # A streamed body is spent once sent: it cannot go again.
                if not isinstance(extra.get("content", b""), bytes) or not self._forget_session():
                    raise
                return await self._request_with_retries(method, path, params, extra)
        except couch_errors.CouchDBError as exc:
            raise _translate(exc, what) from None
        except httpx.HTTPStatusError as exc:
            raise StoreError(f"{what}: HTTP {exc.response.status_code}") from None
        except httpx.TransportError as exc:
            raise Unavailable(f"{self._label}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _request_with_retries(self, method: str, path: str, params: dict | None,
                                    extra: dict[str, Any]) -> httpx.Response:
        async for attempt in self._retrying(method):
            with attempt:
                return await self._server._request(method=method, resource=path, root="", query_kwargs=params,
                                                   **extra)
        raise AssertionError("unreachable")

    def _forget_session(self) -> bool:
        """Drop the session cookie so the next request logs in again; False when
        cookies are not how we authenticate.  CouchDB's session cookie carries no
        expiry date, so couchdb3 cannot tell when the server stopped accepting it
        (by default after 10 idle minutes): a 401 is how we learn."""
        if self._server.auth_method != "cookie":
            return False
        self._server.session.cookies.clear()
        return True

    async def _authenticated(self) -> dict:
        """Request options carrying our credentials, for requests made on the session
        directly (streamed downloads, which couchdb3's request method cannot do)."""
        if self._server.auth_method == "cookie":
            await self._server._renew_auth_token()  # no request while the cookie is valid
            return {}
        return {"auth": self._server._auth} if self._server._auth else {}

    # --- databases -----------------------------------------------------------------

    async def _create_db(self, db: str) -> bool:
        try:
            await self._send("PUT", _segment(db), what=db)
            created = True
        except _PreconditionFailed:  # it exists
            created = False
        await self.ensure_views(db)
        return created

    async def _delete_db(self, db: str) -> bool:
        self._views_current.discard(db)
        # pouchdb-server answers 200 to deleting a database that does not exist, so
        # ask first; CouchDB's 404 is still handled below.
        if not await self._db_exists(db):
            return False
        try:
            await self._send("DELETE", _segment(db), what=db)
        except NotFound:
            return False
        return True

    async def _db_exists(self, db: str) -> bool:
        try:
            await self._send("HEAD", _segment(db), what=db)
        except NotFound:
            return False
        return True

    async def _list_dbs(self) -> list[str]:
        names = (await self._send("GET", "_all_dbs", what="_all_dbs")).json()
        listed = []
        for name in names:
            if name.startswith("_"):
                continue  # the server's own databases
            match = _POUCHDB_ACCOUNT_NAME.match(name) if self.server_kind == "pouchdb-server" else None
            if match:
                a, b, rest, month = match.groups()
                name = f"account/{a}/{b}/{rest}{month or ''}"
            listed.append(name)
        return listed

    # --- documents -------------------------------------------------------------------

    async def _get(self, db: str, doc_id: str) -> dict:
        return (await self._send("GET", _doc_path(db, doc_id), what=f"{db}/{doc_id}")).json()

    async def _put(self, db: str, doc: dict) -> str:
        response = await self._send("PUT", _doc_path(db, doc["_id"]), body=_base64_inline(doc),
                                    what=f"{db}/{doc['_id']}")
        return response.json()["rev"]

    async def _delete(self, db: str, doc_id: str, rev: str) -> str:
        response = await self._send("DELETE", _doc_path(db, doc_id), params={"rev": rev}, what=f"{db}/{doc_id}")
        return response.json()["rev"]

    async def _bulk_put(self, db: str, docs: list[dict]) -> list[BulkResult]:
        if not docs:
            return []
        response = await self._send("POST", f"{_segment(db)}/_bulk_docs",
                                    body={"docs": [_base64_inline(doc) for doc in docs]}, what=db)
        results = []
        for doc, outcome in zip(docs, response.json()):
            if "error" in outcome:
                error = "bad_request" if outcome["error"] in ("bad_request", "forbidden", "missing_stub") \
                    else outcome["error"]
                results.append(BulkResult(doc["_id"], False, error=error, reason=outcome.get("reason")))
            else:
                results.append(BulkResult(doc["_id"], True, rev=outcome["rev"]))
        return results

    async def _bulk_get(self, db: str, ids: list[str]) -> list[dict | None]:
        response = await self._send("POST", f"{_segment(db)}/_all_docs", params={"include_docs": "true"},
                                    body={"keys": ids}, what=db)
        return [row.get("doc") if "error" not in row else None for row in response.json()["rows"]]

    async def _all_docs(self, db: str, *, include_docs: bool) -> list[dict]:
        params = {"include_docs": "true"} if include_docs else None
        response = await self._send("GET", f"{_segment(db)}/_all_docs", params=params, what=db)
        rows = []
        for row in response.json()["rows"]:
            if row["id"].startswith("_design/"):
                continue  # our views, not documents
            entry = {"id": row["id"], "rev": row["value"]["rev"]}
            if include_docs:
                entry["doc"] = row["doc"]
            rows.append(entry)
        return rows

    # --- attachments -----------------------------------------------------------------

    async def _put_attachment(self, db: str, doc_id: str, name: str, data: AttachmentData, *,
                              content_type: str, rev: str | None) -> str:
        content = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
        response = await self._send(
            "PUT", _doc_path(db, doc_id, name), params={"rev": rev} if rev else None,
            content=content, headers={"Content-Type": content_type}, what=f"{db}/{doc_id}/{name}",
        )
        return response.json()["rev"]

    async def _get_attachment(self, db: str, doc_id: str, name: str) -> bytes:
        response = await self._send("GET", _doc_path(db, doc_id, name), what=f"{db}/{doc_id}/{name}")
        return response.content

    async def _stream_attachment(self, db: str, doc_id: str, name: str, chunk_size: int, offset: int = 0,
                                 length: int | None = None) -> AsyncIterator[bytes]:
        """The HTTP response body as it arrives (httpx streaming), never read whole.  A
        byte window is asked for with ``Range``; a server that ignores it (pouchdb-server
        answers 200 with everything) has the bytes outside the window dropped here."""
        what = f"{db}/{doc_id}/{name}"
        session = self._server.session
        url = f"{self._server.url}/{_doc_path(db, doc_id, name)}"
        if length == 0:
            return
        headers = {}
        if offset or length is not None:
            last = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{last}"

        async def open_response() -> httpx.Response:
            options = await self._authenticated()
            # Only opening the response is retried: once chunks have been handed out,
            # starting again would repeat them.
            async for attempt in self._retrying("GET"):
                with attempt:
                    return await session.send(session.build_request("GET", url, headers=headers), stream=True,
                                              **options)
            raise AssertionError("unreachable")

        try:
            response = await open_response()
            if response.status_code == 401 and self._forget_session():
                await response.aclose()
                response = await open_response()
        except httpx.TransportError as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                try:
                    check_response(response)
                except couch_errors.CouchDBError as exc:
                    raise _translate(exc, what) from None
                raise StoreError(f"{what}: HTTP {response.status_code}")
            chunks = response.aiter_bytes(chunk_size)
            if headers and response.status_code != 206:
                chunks = _window(chunks, offset, length)
            async for chunk in chunks:
                yield chunk
        except httpx.TransportError as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        finally:
            await response.aclose()

    # --- views ---------------------------------------------------------------------

    async def ensure_views(self, db: str | None = None) -> None:
        if db is None:
            names = await self.list_dbs()
            limit = asyncio.Semaphore(8)

            async def one(name: str) -> None:
                async with limit:
                    await self._install_views(name)

            await asyncio.gather(*(one(name) for name in names))
        else:
            await self._install_views(db_name(db))

    async def _install_views(self, db: str) -> None:
        wanted = views.design_doc()
        for _ in range(3):
            current = await self._get_design(db)
            if current is not None and current.get("kzvoice_views_version") == views.VERSION:
                self._views_current.add(db)
                return
            if current is not None:
                wanted["_rev"] = current["_rev"]
            try:
                await self._send("PUT", _design_path(db), body=wanted, what=f"{db}/{views.DESIGN_ID}")
            except Conflict:
                continue  # another process installed it meanwhile: look again
            self._views_current.add(db)
            return
        raise StoreError(f"{db}: could not install {views.DESIGN_ID}")

    async def _get_design(self, db: str) -> dict | None:
        try:
            return (await self._send("GET", _design_path(db), what=f"{db}/{views.DESIGN_ID}")).json()
        except DatabaseNotFound:
            raise
        except NotFound:
            return None

    async def _view(self, db: str, view: views.View, *, key: Any = ALL_KEYS,
                    include_docs: bool = False) -> list[ViewRow]:
        if db not in self._views_current:
            await self._install_views(db)
        params = {}
        if isinstance(key, views.KeyPrefix):
            params["startkey"] = json.dumps(list(key.items))
            params["endkey"] = json.dumps([*key.items, {}])
        elif key is not ALL_KEYS:
            params["key"] = json.dumps(key)
        if include_docs:
            params["include_docs"] = "true"
        path = f"{_design_path(db)}/_view/{view.name}"
        try:
            response = await self._send("GET", path, params=params, what=f"{db} view {view.name}")
        except DatabaseNotFound:
            self._views_current.discard(db)
            raise
        except NotFound:
            # The design document went away (database recreated): install, ask again.
            await self._install_views(db)
            response = await self._send("GET", path, params=params, what=f"{db} view {view.name}")
        return [ViewRow(row["key"], row["id"], row.get("value"), row.get("doc"))
                for row in response.json()["rows"]]


async def _window(chunks: AsyncIterator[bytes], offset: int, length: int | None) -> AsyncIterator[bytes]:
    """The bytes ``offset`` .. ``offset + length`` of a stream of chunks."""
    position = 0
    stop = None if length is None else offset + length
    async for chunk in chunks:
        end = position + len(chunk)
        if end > offset:
            piece = chunk[max(0, offset - position):len(chunk) if stop is None else max(0, stop - position)]
            if piece:
                yield piece
        position = end
        if stop is not None and position >= stop:
            return


def _base64_inline(doc: dict) -> dict:
    """``doc`` as CouchDB takes it: inline attachment data given as bytes goes in base64."""
    attachments = doc.get("_attachments")
    if not isinstance(attachments, dict) or not any(
            isinstance(spec, dict) and isinstance(spec.get("data"), (bytes, bytearray, memoryview))
            for spec in attachments.values()):
        return doc
    encoded = {name: {**spec, "data": base64.b64encode(spec["data"]).decode("ascii")}
               if isinstance(spec, dict) and isinstance(spec.get("data"), (bytes, bytearray, memoryview)) else spec
               for name, spec in attachments.items()}
    return {**doc, "_attachments": encoded}


def _json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"not storable as JSON: {exc}") from None


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
