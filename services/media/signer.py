"""Signed, expiring tokens for the URLs a gateway is handed (media.md 6.3; bus.md 5.3).

A token is ``<payload>.<signature>``: the payload is base64url of a compact JSON
object -- purpose, database, document id, attachment name, expiry (Unix seconds),
and for single-use purposes a random nonce -- and the signature base64url of its
HMAC-SHA256 keyed with the upload secret (``KZ_UPLOAD_SECRET``).  Signatures are
compared in constant time.

The purpose keeps the URLs apart: a ``play`` token opens nothing but a stream, an
upload token nothing but its upload (:class:`Purpose`).  The clock is injectable
so tests can move time (MED-026, MED-027).

Every replica that must accept another's URLs needs the same secret; with none
given, a random one is made for this process.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Callable


class Purpose(enum.Enum):
    PLAY = "play"                       # GET/HEAD of a stored attachment (media.md 6.3)
    UPLOAD_MESSAGE = "upload_message"   # PUT of a voicemail message's recording (bus.md 5.3)
    UPLOAD_MEDIA = "upload_media"       # PUT of a greeting or name recorded by phone


class Refusal(enum.Enum):
    """Why a token is refused; logged, never shown to the client."""

    MALFORMED = "malformed token"
    BAD_SIGNATURE = "bad signature"
    WRONG_PURPOSE = "token made for another purpose"
    EXPIRED = "token expired"


class TokenRefused(Exception):
    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(reason.value + (f": {detail}" if detail else ""))
        self.reason = reason


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: ``purpose`` on one attachment of one document until ``expires``."""

    purpose: Purpose
    db: str
    doc_id: str
    attachment: str
    expires: int              # Unix seconds
    nonce: str | None = None  # set for single-use purposes; the consumer tracks its use


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UrlSigner:
    def __init__(self, secret: str | bytes | None = None, *, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            secret = os.urandom(32)
        self._key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        self.clock = clock

    def issue(self, purpose: Purpose, *, db: str, doc_id: str, attachment: str, ttl_s: float,
              single_use: bool = False) -> str:
        """A token for ``purpose`` on ``db`` / ``doc_id`` / ``attachment``, valid for ``ttl_s``
        seconds from now (rounded up to the second)."""
        payload = {"p": purpose.value, "db": db, "id": doc_id, "a": attachment,
                   "e": math.ceil(self.clock() + ttl_s)}
        if single_use:
            payload["n"] = os.urandom(12).hex()
        encoded = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        return f"{encoded}.{self._sign(encoded)}"

    def check(self, token: str, purpose: Purpose) -> Grant:
        """The grant of a valid, unexpired ``purpose`` token; :class:`TokenRefused` otherwise."""
        payload, sep, signature = token.partition(".")
        if not sep or not payload or not signature:
            raise TokenRefused(Refusal.MALFORMED, "not <payload>.<signature>")
        if not hmac.compare_digest(signature.encode("ascii", "replace"), self._sign(payload).encode("ascii")):
            raise TokenRefused(Refusal.BAD_SIGNATURE)
        try:
            data = json.loads(_unb64(payload))
            grant = Grant(Purpose(data["p"]), _text(data["db"]), _text(data["id"]), _text(data["a"]),
                          int(data["e"]), data.get("n"))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            # signed by our key, yet not one of our payloads (an older token format)
            raise TokenRefused(Refusal.MALFORMED, f"payload: {exc}") from None
        if grant.purpose is not purpose:
            raise TokenRefused(Refusal.WRONG_PURPOSE, f"{grant.purpose.value}, not {purpose.value}")
        if grant.expires < self.clock():
            raise TokenRefused(Refusal.EXPIRED, f"{self.clock() - grant.expires:.0f} s ago")
        return grant

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii", "replace"), hashlib.sha256).digest())


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value
