"""Our own storage endpoint for recordings (bus.md 5.3, ours).

The gateway uploads a recording with an HTTP ``PUT`` of the raw audio to a URL
we hand it in ``send_http``.  Each URL carries a token that

* is signed (HMAC-SHA256 with ``KZ_UPLOAD_SECRET``; a random secret per process
  when that is empty),
* names exactly one attachment of one message document (account, document id,
  attachment name),
* expires (default 15 minutes after it was issued, i.e. after the recording
  ended), and
* is accepted once: the first ``PUT`` that the sink takes consumes it.

Every other ``PUT`` (forged, altered, expired, reused, wrong path) gets 403 and
stores nothing.  A sink failure answers 500 and does not consume the token,
so the gateway's retry of the same URL can still succeed.

API (stable)::

    server = UploadServer(secret=settings.upload_secret, sink=spool.receive,
                          host="127.0.0.1", port=0, public_url="")
    await server.start()
    url = server.url_for(account_id, doc_id, "0f1e...mp3")        # 15-minute single-use URL
    await server.stop()

``sink(grant, body, content_type)`` is awaited for an accepted upload.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 15 * 60.0
PATH_PREFIX = "/vm/upload/"
MAX_BODY = 256 * 1024 * 1024


class Forbidden(Exception):
    """The token is not one we issued, or no longer usable."""


@dataclass(frozen=True)
class Grant:
    """What one upload URL allows: one attachment of one document, until ``expires`` (Unix seconds)."""

    account_id: str
    doc_id: str
    attachment: str
    expires: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UploadTokens:
    """Signs and checks upload tokens; remembers the ones already used until they expire."""

    def __init__(self, secret: str | bytes | None = None, *, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            secret = os.urandom(32)
        self._key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        self._clock = clock
        self._used: dict[str, float] = {}        # nonce -> expiry
        self._in_flight: set[str] = set()

    def issue(self, account_id: str, doc_id: str, attachment: str, *, ttl_s: float = DEFAULT_TTL_S) -> str:
        grant = {"a": account_id, "d": doc_id, "n": attachment, "e": round(self._clock() + ttl_s, 3),
                 "r": os.urandom(12).hex()}
        payload = _b64(json.dumps(grant, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def check(self, token: str) -> Grant:
        """The grant of a valid, unexpired, unused token; ``Forbidden`` otherwise."""
        payload, sep, signature = token.partition(".")
        if not sep or not payload or not hmac.compare_digest(signature, self._sign(payload)):
            raise Forbidden("bad signature")
        try:
            data = json.loads(_unb64(payload))
            grant = Grant(str(data["a"]), str(data["d"]), str(data["n"]), float(data["e"]), str(data["r"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise Forbidden(f"bad token: {exc}") from None
        now = self._clock()
        if grant.expires < now:
            raise Forbidden("expired")
        self._prune(now)
        if grant.nonce in self._used or grant.nonce in self._in_flight:
            raise Forbidden("already used")
        return grant

    def begin(self, grant: Grant) -> None:
        self._in_flight.add(grant.nonce)

    def finish(self, grant: Grant, *, consumed: bool) -> None:
        self._in_flight.discard(grant.nonce)
        if consumed:
            self._used[grant.nonce] = grant.expires

    def _prune(self, now: float) -> None:
        if len(self._used) > 1024:
            for nonce in [n for n, expires in self._used.items() if expires < now]:
                del self._used[nonce]


Sink = Callable[[Grant, bytes, str], Awaitable[object]]


class UploadServer:
    """A small aiohttp site taking the gateway's ``PUT`` of recordings."""

    def __init__(self, *, secret: str | bytes | None, sink: Sink, host: str = "127.0.0.1", port: int | None = None,
                 public_url: str = "", ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.time) -> None:
        """``port=None``: the port of ``public_url`` when it names one, else an ephemeral port."""
        self.tokens = UploadTokens(secret, clock=clock)
        self._sink = sink
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

    async def start(self, *, routes: Iterable[web.RouteDef] = ()) -> "UploadServer":
        """``routes``: more routes on this listener (the media Stream-URLs), matched before the uploads'."""
        app = web.Application(client_max_size=MAX_BODY)
        app.add_routes(routes)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        port = sockets[0].getsockname()[1] if sockets else self._port
        if self._public_url:
            self.base_url = self._public_url
        else:
            host = self._host if self._host not in ("", "0.0.0.0", "::") else socket.gethostname()
            self.base_url = f"http://{host}:{port}"
        log.info("recording uploads accepted on port %s (URLs under %s)", port, self.base_url)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url_for(self, account_id: str, doc_id: str, attachment: str, *, ttl_s: float | None = None) -> str:
        token = self.tokens.issue(account_id, doc_id, attachment, ttl_s=self.ttl_s if ttl_s is None else ttl_s)
        return f"{self.base_url}{PATH_PREFIX}{token}/{attachment}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("PUT", "POST"):
            return web.Response(status=405)
        path = request.path
        if not path.startswith(PATH_PREFIX):
            return self._refuse("unknown path")
        token, _, attachment = path[len(PATH_PREFIX):].partition("/")
        try:
            grant = self.tokens.check(token)
        except Forbidden as exc:
            return self._refuse(str(exc))
        if attachment != grant.attachment:
            return self._refuse("attachment name differs from the token's")
        self.tokens.begin(grant)
        consumed = False
        try:
            body = await request.read()
            if not body:
                return web.Response(status=400, text="empty body")
            content_type = request.headers.get("Content-Type") or "application/octet-stream"
            await self._sink(grant, body, content_type.split(";")[0].strip())
            consumed = True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("storing the upload of %s/%s failed", grant.doc_id, grant.attachment)
            return web.Response(status=500, text="not stored")
        finally:
            self.tokens.finish(grant, consumed=consumed)
        self.accepted += 1
        return web.Response(status=201, text="stored")

    def _refuse(self, reason: str) -> web.Response:
        self.refused += 1
        log.warning("upload refused: %s", reason)
        return web.Response(status=403, text="forbidden")
