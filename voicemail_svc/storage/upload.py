"""Our own storage endpoint for recordings (bus.md 5.3, ours).

The gateway uploads a recording with an HTTP ``PUT`` of the raw audio to a URL
we hand it in ``send_http``.  Two kinds of recording come this way, each with a
token purpose and a path of its own (``services.media.signer``, the one signer
of the service, which also signs the media Stream-URLs):

* ``UPLOAD_MESSAGE``, ``/vm/upload/<token>/<attachment>``: the audio of a new
  voicemail message (the spool stores the message with it, storage/spool.py);
* ``UPLOAD_MEDIA``, ``/vm/upload-media/<token>/<attachment>``: a greeting, name
  or temporary greeting recorded by phone (storage/recorded_media.py stores it
  in its media document).

Each URL carries a token that

* is signed (HMAC-SHA256 with ``KZ_UPLOAD_SECRET``; a random secret per process
  when that is empty),
* names exactly one attachment of one document (database, document id,
  attachment name) for one purpose,
* expires (default 15 minutes after it was issued, i.e. after the recording
  ended), and
* is accepted once: the first ``PUT`` that the sink takes consumes it.

Every other ``PUT`` (forged, altered, expired, reused, another purpose's token,
wrong path) gets 403 and stores nothing; a valid one for a recording nothing
waits for any more (the session ended long ago) gets 404.  A sink failure
answers 500 and does not consume the token, so the gateway's retry of the same
URL can still succeed.

API (stable)::

    server = UploadServer(signer=signer, sinks={Purpose.UPLOAD_MESSAGE: spool.receive,
                                                Purpose.UPLOAD_MEDIA: recorded_media.receive},
                          host="127.0.0.1", port=0, public_url="")
    await server.start()
    url = server.url_for(account_id, doc_id, "0f1e...mp3")         # a message's audio
    url = server.media_url_for(account_db, media_id, "0f1e...mp3")  # a media document's audio
    status = await server.take(path, body, "audio/mpeg")           # what a PUT of body to path answers
    await server.stop()

``sink(grant, body, content_type)`` is awaited for an accepted upload.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from aiohttp import web

from services.http import base_url, serve
from services.media.signer import Grant, Purpose, TokenRefused, UrlSigner
from services.store import layout

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 15 * 60.0
PATH_PREFIX = "/vm/upload/"
MEDIA_PATH_PREFIX = "/vm/upload-media/"
PATHS: Mapping[Purpose, str] = {Purpose.UPLOAD_MESSAGE: PATH_PREFIX, Purpose.UPLOAD_MEDIA: MEDIA_PATH_PREFIX}
MAX_BODY = 256 * 1024 * 1024
_USED_KEPT = 1024               # used nonces kept before the expired ones are pruned


class Forbidden(Exception):
    """The token is not one we issued for this, or no longer usable."""


class NotExpected(LookupError):
    """Raised by a sink: a valid token, but nothing waits for that recording (any more): 404."""


class UploadTokens:
    """Single-use upload tokens on the service's signer: each is accepted once, and not
    while an upload with it is being stored (a concurrent second ``PUT``)."""

    def __init__(self, signer: UrlSigner) -> None:
        self.signer = signer
        self._used: dict[str, int] = {}        # nonce -> expiry (Unix seconds)
        self._in_flight: set[str] = set()

    def issue(self, purpose: Purpose, *, db: str, doc_id: str, attachment: str, ttl_s: float) -> str:
        return self.signer.issue(purpose, db=db, doc_id=doc_id, attachment=attachment, ttl_s=ttl_s,
                                 single_use=True)

    def check(self, token: str, purpose: Purpose) -> Grant:
        """The grant of a valid, unexpired, unused ``purpose`` token; ``Forbidden`` otherwise."""
        try:
            grant = self.signer.check(token, purpose)
        except TokenRefused as exc:
            raise Forbidden(str(exc)) from None
        if not grant.nonce:
            raise Forbidden("not a single-use token")
        self._prune()
        if grant.nonce in self._used or grant.nonce in self._in_flight:
            raise Forbidden("already used")
        return grant

    def begin(self, grant: Grant) -> None:
        self._in_flight.add(str(grant.nonce))

    def finish(self, grant: Grant, *, consumed: bool) -> None:
        self._in_flight.discard(str(grant.nonce))
        if consumed:
            self._used[str(grant.nonce)] = grant.expires

    def _prune(self) -> None:
        if len(self._used) > _USED_KEPT:
            now = self.signer.clock()
            for nonce in [n for n, expires in self._used.items() if expires < now]:
                del self._used[nonce]


Sink = Callable[[Grant, bytes, str], Awaitable[object]]


class UploadServer:
    """A small aiohttp site taking the gateway's ``PUT`` of recordings."""

    def __init__(self, *, signer: UrlSigner, sinks: Mapping[Purpose, Sink], host: str = "127.0.0.1",
                 port: int | None = None, public_url: str = "", ttl_s: float = DEFAULT_TTL_S) -> None:
        """``port=None``: the port of ``public_url`` when it names one, else an ephemeral port."""
        unknown = set(sinks) - set(PATHS)
        if unknown:
            raise ValueError(f"no upload path for {', '.join(p.value for p in unknown)}")
        self.tokens = UploadTokens(signer)
        self._sinks = dict(sinks)
        self._public_url = public_url.rstrip("/")
        self._host = host
        if port is None:
            port = (urlsplit(public_url).port if public_url else None) or 0
        self._port = port
        self.ttl_s = ttl_s
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.accepted = 0
        self.refused = 0

    @property
    def signer(self) -> UrlSigner:
        return self.tokens.signer

    async def start(self, *, routes: Iterable[web.RouteDef] = ()) -> "UploadServer":
        """``routes``: more routes on this listener (the media Stream-URLs), matched before the uploads'."""
        app = web.Application(client_max_size=MAX_BODY)
        app.add_routes(routes)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, port = await serve(app, host=self._host, port=self._port)
        self.base_url = base_url(self._host, port, self._public_url)
        log.info("recording uploads accepted on port %s (URLs under %s)", port, self.base_url)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- URLs ----------------------------------------------------------------------------------

    def url_for(self, account_id: str, doc_id: str, attachment: str, *, ttl_s: float | None = None) -> str:
        """The single-use URL for the audio of message ``doc_id`` (in its monthly database)."""
        return self._url(Purpose.UPLOAD_MESSAGE, layout.modb_of_doc_id(account_id, doc_id), doc_id, attachment,
                         ttl_s)

    def media_url_for(self, db: str, doc_id: str, attachment: str, *, ttl_s: float | None = None) -> str:
        """The single-use URL for the audio of media document ``doc_id`` in ``db``."""
        return self._url(Purpose.UPLOAD_MEDIA, layout.normalize_db_name(db), doc_id, attachment, ttl_s)

    def _url(self, purpose: Purpose, db: str, doc_id: str, attachment: str, ttl_s: float | None) -> str:
        token = self.tokens.issue(purpose, db=db, doc_id=doc_id, attachment=attachment,
                                  ttl_s=self.ttl_s if ttl_s is None else ttl_s)
        return f"{self.base_url}{PATHS[purpose]}{token}/{attachment}"

    # -- uploads ---------------------------------------------------------------------------------

    def _admit(self, path: str) -> tuple[Grant, Sink]:
        """The grant and sink of an upload to ``path``; ``Forbidden`` when it is refused."""
        for purpose, prefix in PATHS.items():
            if path.startswith(prefix) and purpose in self._sinks:
                token, _, attachment = path[len(prefix):].partition("/")
                grant = self.tokens.check(token, purpose)
                if attachment != grant.attachment:
                    raise Forbidden("attachment name differs from the token's")
                return grant, self._sinks[purpose]
        raise Forbidden("unknown path")

    async def _deliver(self, grant: Grant, sink: Sink, body: bytes, content_type: str) -> web.Response:
        if not body:
            return web.Response(status=400, text="empty body")
        try:
            await sink(grant, body, content_type.split(";")[0].strip() or "application/octet-stream")
        except asyncio.CancelledError:
            raise
        except NotExpected as exc:
            log.warning("upload not taken: %s", exc)
            return web.Response(status=404, text="not expected")
        except Exception:
            log.exception("storing the upload of %s/%s failed", grant.doc_id, grant.attachment)
            return web.Response(status=500, text="not stored")
        self.accepted += 1
        return web.Response(status=201, text="stored")

    async def take(self, path: str, body: bytes, content_type: str) -> int:
        """What a ``PUT`` of ``body`` to ``path`` answers (the status), without HTTP: for callers
        that stand in for the gateway's upload."""
        response = await self._upload(path, lambda: _ready(body), content_type)
        return response.status

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("PUT", "POST"):
            return web.Response(status=405)
        return await self._upload(request.path, request.read,
                                  request.headers.get("Content-Type") or "application/octet-stream")

    async def _upload(self, path: str, read: Callable[[], Awaitable[bytes]], content_type: str) -> web.Response:
        try:
            grant, sink = self._admit(path)
        except Forbidden as exc:
            return self._refuse(str(exc))
        self.tokens.begin(grant)
        response = web.Response(status=500, text="not stored")
        try:
            response = await self._deliver(grant, sink, await read(), content_type)
        finally:
            self.tokens.finish(grant, consumed=response.status == 201)
        return response

    def _refuse(self, reason: str) -> web.Response:
        self.refused += 1
        log.warning("upload refused: %s", reason)
        return web.Response(status=403, text="forbidden")


async def _ready(body: bytes) -> bytes:
    return body
