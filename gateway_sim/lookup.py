"""How the simulated gateway gets the bytes of a ``play`` (media.md 2.1, 2.2, 6.6).

ecallmgr plays some names as they are (silence, tones, ``say:``...), fetches an
``http(s)://`` name itself, plays a name recorded on the same node from the local file,
and asks a media responder for everything else with a ``media_req``.  The simulator does
the same, by default with no cache of Stream-URLs, so every play proves the whole path:

1. ``media_req`` on ``kapps`` / ``media_req``: ``Stream-Type`` ``new``, the call's
   ``Call-ID``, a fresh ``Msg-ID``, ``Server-ID`` = this gateway's reply queue;
2. the first reply within ``timeout`` (2000 ms, ecallmgr's wait): a ``media_error``,
   no reply, or a ``Stream-URL`` that is not ``http://`` is a failure;
3. one GET of the Stream-URL (or of the ``http(s)://`` name) on the gateway's shared
   aiohttp session: 200 or 206 with a non-empty body is a success.

Which names need what is :func:`services.media.names.gateway_handling`'s answer; it is
not repeated here.

A load test may turn on a cache like the one a real gateway keeps (``cache_seconds``;
media.md 2.3 and 6.6): a media name fetched successfully is played again from what was
fetched, with no media_req and no GET (ecallmgr keeps the Stream-URL for 3600 s and
FreeSWITCH's HTTP cache keeps the file).  Failures are never kept.  Every configuration
event that could change what a name resolves to (a ``media`` document, ``system_config``, a
deleted database: the responder's own rule, ``services.media.answers.flushes``) drops the
whole cache -- more than ecallmgr drops, never less.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping

import aiohttp

from services.bus import Bus, BusError
from services.bus.rpc import ReplyQueue
from services.logging import bind_call
from services.media import wav
from services.media.answers import consume_changes
from services.media.names import GatewayHandling, gateway_handling
from services.messages import catalogue as m

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0          # ecallmgr waits at most 2000 ms for a media_resp (media.md 2.2)
DEFAULT_HTTP_TIMEOUT = 10.0
_ENUMS = {"Voice": ("male", "female"), "Format": ("mp3", "wav"), "Protocol": ("http", "https", "shout", "vlc")}
_CARRIED = ("Language", "Voice", "Format", "Account-ID", "Text", "Engine", "Protocol")


@dataclass(frozen=True)
class Fetched:
    """What one play got: where its bytes came from, how many, and why not."""

    media_name: str
    via: str                         # "media_req", "url", "recording" (local file), "literal", "configured",
                                     # "cache" (played again from an earlier fetch, see cache_seconds)
    ok: bool
    size: int = 0
    reason: str | None = None        # on failure: media_error code, timeout, HTTP status, ...
    stream_url: str | None = None
    seconds: float | None = None     # the body's length when it is a WAV file
    data: bytes | None = None        # the bytes, kept only when the gateway writes audio out
    status: int | None = None        # HTTP status of the GET
    path: str | None = None          # a local recording's file

    def describe(self) -> str:
        if not self.ok:
            return f"FILE NOT FOUND ({self.reason})"
        if self.via == "literal":
            return "played as it is"
        if self.via == "configured":
            return "configured as missing"
        where = {"media_req": "media_req + GET", "url": "GET", "recording": "local recording",
                 "cache": "the gateway's cache"}.get(self.via, self.via)
        length = f", {self.seconds:.3f} s" if self.seconds is not None else ""
        return f"{self.size} bytes via {where}{length}"

    def to_json(self) -> dict[str, Any]:
        entry = {"media_name": self.media_name, "via": self.via, "ok": self.ok, "bytes": self.size}
        for key, value in (("reason", self.reason), ("stream_url", self.stream_url), ("seconds", self.seconds),
                           ("status", self.status)):
            if value is not None:
                entry[key] = value
        return entry


def needs_fetch(media_name: str) -> bool:
    """True when ecallmgr would fetch bytes for ``media_name``: a media_req or a URL."""
    return gateway_handling(media_name) in (GatewayHandling.MEDIA_REQ, GatewayHandling.URL)


class MediaLookup:
    """The gateway's media_req client and HTTP fetcher (one per gateway, shared by its calls)."""

    def __init__(self, bus: Bus, session: aiohttp.ClientSession, *, timeout: float = DEFAULT_TIMEOUT,
                 http_timeout: float = DEFAULT_HTTP_TIMEOUT, keep_audio: bool = False,
                 cache_seconds: float = 0.0) -> None:
        self._bus = bus
        self._session = session
        self.timeout = timeout
        self.http_timeout = http_timeout
        self.keep_audio = keep_audio
        self.cache_seconds = cache_seconds      # 0: no cache (see the module docstring)
        self._cache: dict[str, tuple[Fetched, float]] = {}
        self._generation = 0                    # moves on every flush: a fetch begun before one is not kept
        self._pending: dict[str, asyncio.Future] = {}   # names being fetched now (cache on)
        self._changes = None
        self._replies: ReplyQueue | None = None
        self.requests = 0        # media_req published
        self.gets = 0            # HTTP GETs made
        self.cache_hits = 0      # plays served from the cache
        self.cache_flushes = 0

    @property
    def server_id(self) -> str | None:
        return self._replies.name if self._replies is not None else None

    async def start(self) -> "MediaLookup":
        if self.cache_seconds > 0:
            # the change events first, so nothing kept can miss one
            self._changes = await consume_changes(self._bus, "gw-media-changes", self._on_change)
        self._replies = await self._bus.reply_queue("gw-media")
        return self

    async def stop(self) -> None:
        if self._changes is not None:
            changes, self._changes = self._changes, None
            await changes.stop(1.0)
        if self._replies is not None:
            replies, self._replies = self._replies, None
            await replies.close()

    async def _on_change(self, message) -> None:
        # only changes that can alter an answer come here (consume_changes)
        log.debug("media cache dropped (%d names): %s %s/%s", len(self._cache), message.spec.name,
                  message.get("Database"), message.get("ID"))
        self._cache.clear()
        self._generation += 1
        self.cache_flushes += 1

    async def fetch(self, media_name: str, *, call_id: str, command: Mapping[str, Any] | None = None) -> Fetched:
        """The bytes of ``media_name`` (a name that :func:`needs_fetch`)."""
        with bind_call(call_id):
            return await self._fetch(media_name, call_id, command or {})

    async def _fetch(self, media_name: str, call_id: str, command: Mapping[str, Any]) -> Fetched:
        if gateway_handling(media_name) is GatewayHandling.URL:
            return await self._get(media_name, media_name, via="url", call_id=call_id)
        if self.cache_seconds > 0:
            kept = self._cache.get(media_name)
            if kept is not None and kept[1] > time.monotonic():
                self.cache_hits += 1
                return kept[0]
            pending = self._pending.get(media_name)
            if pending is not None:          # asked for already: share that answer
                try:
                    fetched = await asyncio.shield(pending)
                except Exception:            # the call that asked went away first: ask again
                    return await self._ask_and_get(media_name, call_id, command)
                if fetched.ok:
                    self.cache_hits += 1
                    return replace(fetched, via="cache")
                return fetched
            pending = self._pending[media_name] = asyncio.get_running_loop().create_future()
            try:
                fetched = await self._ask_and_get(media_name, call_id, command)
            except BaseException as exc:
                pending.set_exception(exc if isinstance(exc, Exception) else RuntimeError("fetch cancelled"))
                pending.exception()          # retrieved: a waiter may not be there to see it
                raise
            else:
                pending.set_result(fetched)
            finally:
                del self._pending[media_name]
            return fetched
        return await self._ask_and_get(media_name, call_id, command)

    async def _ask_and_get(self, media_name: str, call_id: str, command: Mapping[str, Any]) -> Fetched:
        generation = self._generation
        url, reason = await self._ask(media_name, call_id, command)
        if url is None:
            log.info("media %s: no Stream-URL (%s)", media_name, reason)
            return Fetched(media_name, "media_req", False, reason=reason)
        fetched = await self._get(media_name, url, via="media_req", call_id=call_id)
        if self.cache_seconds > 0 and fetched.ok and generation == self._generation:
            self._cache[media_name] = (replace(fetched, via="cache"), time.monotonic() + self.cache_seconds)
        return fetched

    async def _ask(self, media_name: str, call_id: str, command: Mapping[str, Any]) -> tuple[str | None, str]:
        assert self._replies is not None, "start the lookup first"
        fields: dict[str, Any] = {"Media-Name": media_name, "Stream-Type": "new", "Call-ID": call_id}
        for key in _CARRIED:
            value = command.get(key)
            if isinstance(value, str) and value and (key not in _ENUMS or value in _ENUMS[key]):
                fields[key] = value
        body = self._bus.publisher.build(m.MEDIA_REQ, fields, server_id=self._replies.name)
        stream = self._replies.stream(body["Msg-ID"])
        try:
            try:
                await self._bus.publisher.send(m.MEDIA_REQ, body)
            except BusError as exc:
                return None, f"media_req not published: {exc}"
            self.requests += 1
            try:
                reply = await stream.next(self.timeout)
            except (asyncio.TimeoutError, TimeoutError):
                return None, f"no reply to media_req in {int(self.timeout * 1000)} ms"
            except BusError as exc:          # the gateway is stopping
                return None, f"no reply to media_req: {exc}"
        finally:
            stream.close()
        if isinstance(reply, BaseException):        # pragma: no cover - the stream raises instead
            return None, str(reply)
        if reply.spec.key == m.MEDIA_ERROR.key:
            return None, f"media_error {reply.get('Error-Code')}/{reply.get('Error-Msg', '')}".rstrip("/")
        url = reply.get("Stream-URL")
        if not isinstance(url, str) or not url.startswith("http://"):
            return None, f"Stream-URL {url!r} is not http://"
        return url, ""

    async def _get(self, media_name: str, url: str, *, via: str, call_id: str) -> Fetched:
        self.gets += 1
        try:
            async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=self.http_timeout)) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            reason = f"GET failed: {type(exc).__name__}" + (f": {exc}" if str(exc) else "")
            log.info("media %s: %s", media_name, reason)
            return Fetched(media_name, via, False, reason=reason, stream_url=url)
        if status not in (200, 206):
            return Fetched(media_name, via, False, reason=f"HTTP {status}", stream_url=url, status=status)
        if not body:
            return Fetched(media_name, via, False, reason=f"HTTP {status} with an empty body", stream_url=url,
                           status=status)
        return Fetched(media_name, via, True, size=len(body), stream_url=url, seconds=wav.duration(body),
                       data=body if self.keep_audio else None, status=status)
