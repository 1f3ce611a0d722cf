"""The HTTP side of playback: ``GET``/``HEAD /media/<token>/<attachment name>`` (media.md 6.3, 6.4).

:class:`MediaEndpoint` mints Stream-URLs (:meth:`~MediaEndpoint.url_for`) and serves
them.  Its routes mount on any aiohttp application (:meth:`~MediaEndpoint.mount`):
the voicemail service's upload listener, or :class:`StandaloneSite` where nothing else serves
HTTP.  A request is answered:

* ``405`` with ``Allow: GET, HEAD`` for any other method;
* ``403`` without media bytes for a token that is malformed, wrongly signed, made
  for another purpose or expired, or a last path part other than the token's
  attachment; the reason is logged at info, the token never;
* ``404`` when the document, the attachment or a link target is gone, or the audio
  sits in external storage; ``503`` when the store fails;
* ``200`` with the raw bytes, ``Content-Length``, ``Accept-Ranges: bytes``, the
  stub's ``Content-Type`` (else by extension), ``ETag`` when the store keeps a digest;
* one ``Range`` (``bytes=a-b``, ``a-``, ``-n``): ``206`` with ``Content-Range``;
  unsatisfiable: ``416`` with ``Content-Range: bytes */<length>``; several: ``200``, whole.

The bytes are streamed from the store chunk by chunk (the resolver's
:meth:`~services.media.audio.AudioResolver.open`); a response never holds the
whole attachment.  ``HEAD`` answers the headers a ``GET`` would, without the body.
"""

from __future__ import annotations

import logging
import re
from typing import Callable
from urllib.parse import quote

from aiohttp import web

from services.http import base_url, serve
from services.media.audio import Audio, AudioResolver, Failure, Unresolved
from services.media.signer import Purpose, TokenRefused, UrlSigner
from services.store.interface import StoreError

log = logging.getLogger(__name__)

PATH_PREFIX = "/media/"
DEFAULT_TTL_S = 7200
ALLOWED = "GET, HEAD"

_STATUS = {Failure.NOT_FOUND: 404, Failure.NO_DATA: 404, Failure.UNSUPPORTED_STORAGE: 404,
           Failure.STORE_UNAVAILABLE: 503}
_ONE_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class Unsatisfiable(Exception):
    """The Range asks for bytes the attachment does not have."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` (inclusive) asked for by a ``Range`` header, or None for the whole
    body: no header, another unit, several ranges, or a syntax error (which is ignored).
    :class:`Unsatisfiable` when the one range lies outside ``size`` bytes."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _ONE_RANGE.match(spec)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":                                  # -n: the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - count), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    return start, size - 1 if last == "" else min(int(last), size - 1)


class MediaEndpoint:
    def __init__(self, resolver: AudioResolver, signer: UrlSigner, *, base_url: str | Callable[[], str] = "",
                 ttl_s: float = DEFAULT_TTL_S) -> None:
        """``base_url``: the public URL of the HTTP listener these routes are mounted on (or
        a function giving it, for a listener whose port is known only once it runs)."""
        self._resolver = resolver
        self._signer = signer
        self._base_url = base_url
        self.ttl_s = ttl_s
        self.served = 0
        self.refused = 0

    @property
    def base_url(self) -> str:
        base = self._base_url() if callable(self._base_url) else self._base_url
        return base.rstrip("/")

    def url_for(self, db: str, doc_id: str, attachment: str) -> str:
        """A fresh Stream-URL for one attachment, valid for ``ttl_s`` and for any number of GETs."""
        token = self._signer.issue(Purpose.PLAY, db=db, doc_id=doc_id, attachment=attachment, ttl_s=self.ttl_s)
        return f"{self.base_url}{PATH_PREFIX}{token}/{quote(attachment, safe='')}"

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", PATH_PREFIX + "{token}/{name}", self.handle)]

    def mount(self, app: web.Application) -> None:
        """Add the routes to ``app``; mount before any catch-all route of that app."""
        app.add_routes(self.routes())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": ALLOWED})
        name = request.match_info["name"]
        try:
            grant = self._signer.check(request.match_info["token"], Purpose.PLAY)
        except TokenRefused as exc:
            return self._refuse(str(exc))
        if name != grant.attachment:
            return self._refuse("the last path part is not the token's attachment")
        audio = await self._resolver.resolve(grant.db, grant.doc_id, grant.attachment)
        if isinstance(audio, Unresolved):       # logged by the resolver
            return web.Response(status=_STATUS[audio.failure], text=f"{audio.failure.value}\n")
        return await self._send(request, audio)

    def _refuse(self, reason: str) -> web.Response:
        self.refused += 1
        log.info("media URL refused (403): %s", reason)
        return web.Response(status=403, text="forbidden\n")

    async def _send(self, request: web.Request, audio: Audio) -> web.StreamResponse:
        headers = {"Content-Type": audio.content_type, "Accept-Ranges": "bytes"}
        if audio.digest:
            headers["ETag"] = f'"{audio.digest}"'
        size = audio.length
        window = None
        if size is not None:
            try:
                window = byte_range(request.headers.get("Range"), size)
            except Unsatisfiable:
                return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        response = web.StreamResponse(status=200 if window is None else 206, headers=headers)
        if window is not None:
            first, last = window
            response.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
            offset, length = first, last - first + 1
        else:
            offset, length = 0, None
        if size is not None:
            response.content_length = size if window is None else length
        await response.prepare(request)
        if request.method == "HEAD":
            await response.write_eof()
            return response
        sent = 0
        try:
            async for chunk in self._resolver.open(audio, offset=offset, length=length):
                await response.write(chunk)
                sent += len(chunk)
        except StoreError as exc:
            # the headers are out: all that is left is to cut the connection, so the
            # client sees a short body rather than a complete-looking wrong one
            log.warning("streaming %s/%s/%s stopped after %d bytes: %s", audio.source.db, audio.source.doc_id,
                        audio.source.attachment, sent, exc)
            if request.transport is not None:
                request.transport.close()
            return response
        except ConnectionError:
            log.debug("client went away after %d bytes", sent)
            return response
        await response.write_eof()
        self.served += 1
        log.debug("served %d bytes of %s/%s/%s", sent, audio.requested.db, audio.requested.doc_id,
                  audio.requested.attachment)
        return response


class StandaloneSite:
    """An aiohttp site serving only the media routes, for a process with no other HTTP
    listener (a media service of its own, the tests, the benchmark)."""

    def __init__(self, endpoint: MediaEndpoint, *, host: str = "127.0.0.1", port: int = 0,
                 public_url: str = "") -> None:
        self.endpoint = endpoint
        self._host = host
        self._port = port
        self._public_url = public_url
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> "StandaloneSite":
        app = web.Application()
        self.endpoint.mount(app)
        self._runner, port = await serve(app, host=self._host, port=self._port)
        self.url = base_url(self._host, port, self._public_url)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
