"""Answer the gateway's ``media_req`` with a Stream-URL or a specific error (media.md 3, 6.1, 6.2).

``MediaResponder(bus, resolver, endpoint, prompts)`` consumes the shared queue
``media_requests`` (non-exclusive, non-durable, KAZOO's queue arguments, bus.md 1.3),
bound to ``kapps`` / ``media_req``: every instance competes for requests, so each
request gets exactly one reply.  For each request:

1. the name is parsed (:mod:`services.media.names`); a prompt goes through the
   prompt lookup (:mod:`services.media.prompts`) to its document;
2. the audio resolver finds the attachment and where its bytes are;
3. the reply goes to the request's ``Server-ID`` on ``targeted``, with its
   ``Msg-ID`` and ``Media-Name``: ``media_resp`` with a fresh signed Stream-URL, or
   ``media_error`` with the codes of media.md 6.2.

The whole answer is bounded by ``budget_s`` (default 1.5 s, under the gateway's
2000 ms wait): a store that does not answer in time gives ``store_unavailable``.
An invalid request is logged once and dropped by the consumer (no reply); a request
without ``Server-ID`` is resolved, for the log, and not answered.

What a name resolved to is remembered (:mod:`services.media.answers`) and forgotten
on any ``configuration`` event about media, accounts or their configuration, which
a queue of this responder's own receives; so a stored or changed prompt is seen by
the next request after its event (MED-019).  Misses and errors are never kept.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from services.bus import Bus
from services.exchanges import KAPPS
from services.media import names
from services.media.answers import Answers, consume_changes
from services.media.audio import AudioResolver, Failure, Place, Unresolved
from services.media.endpoint import MediaEndpoint
from services.media.prompts import PromptLookup
from services.messages import catalogue as m
from services.messages.spec import Message
from services.store.interface import StoreError

log = logging.getLogger(__name__)

QUEUE = "media_requests"
DEFAULT_BUDGET_S = 1.5
INVALID_MEDIA_NAME = "invalid_media_name"


@dataclass(frozen=True)
class Answer:
    """A media_resp (``stream_url``) or a media_error (``code``, ``message``)."""

    stream_url: str | None = None
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.stream_url is not None


def _error(code: str, message: str) -> Answer:
    return Answer(code=code, message=message)


_FAILURES = {
    Failure.NOT_FOUND: _error("not_found", "not_found"),
    Failure.NO_DATA: _error("no_data", "no_data"),
    Failure.STORE_UNAVAILABLE: _error("other", "store_unavailable"),
}
UNSUPPORTED_TTS = _error("other", "unsupported_tts")
STORE_UNAVAILABLE = _FAILURES[Failure.STORE_UNAVAILABLE]


class MediaResponder:
    def __init__(self, bus: Bus, resolver: AudioResolver, endpoint: MediaEndpoint, prompts: PromptLookup, *,
                 queue: str = QUEUE, budget_s: float = DEFAULT_BUDGET_S, prefetch: int = 64,
                 answers: Answers | None = None) -> None:
        self._bus = bus
        self._resolver = resolver
        self._endpoint = endpoint
        self._prompts = prompts
        self.queue_name = queue
        self._budget_s = budget_s
        self._prefetch = prefetch
        self.answers = answers if answers is not None else Answers()
        self._consumer = None
        self._events = None
        self.answered = 0
        self.unanswered = 0

    async def start(self) -> "MediaResponder":
        base = self._endpoint.base_url
        if not base.startswith("http://"):
            # ecallmgr refuses any other Stream-URL (media.md 6.3): fail at start, not per call
            raise ValueError(f"media Stream-URLs would start with {base or '(nothing)'!r}; a gateway needs "
                             "http:// (set KZ_PUBLIC_URL to an http:// address)")
        # the change events first, so nothing remembered can miss one
        self._events = await consume_changes(self._bus, "media_events", self._on_change)
        consumer = await self._bus.consumer(self.queue_name, exclusive=False, auto_delete=True,
                                            prefetch=self._prefetch)
        await consumer.bind(KAPPS, m.MEDIA_REQ_KEY)
        consumer.on(m.MEDIA_REQ, self._on_request)
        await consumer.start()
        self._consumer = consumer
        log.info("answering media_req on %s; Stream-URLs under %s", self.queue_name, base)
        return self

    async def stop(self, drain_timeout: float = 5.0) -> bool:
        drained = True
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            drained = await consumer.stop(drain_timeout)
        if self._events is not None:
            events, self._events = self._events, None
            await events.stop(1.0)
        return drained

    @property
    def ready(self) -> bool:
        return all(c is not None and c.running for c in (self._consumer, self._events))

    async def _on_change(self, message: Message) -> None:
        # only changes that can alter an answer come here (consume_changes)
        self.answers.flush(f"{message.spec.name} {message.get('Database')}/{message.get('ID')}")

    async def answer(self, media_name: str) -> Answer:
        """What a media_req for ``media_name`` is answered with."""
        try:
            async with asyncio.timeout(self._budget_s):
                return await self._answer(media_name)
        except TimeoutError:
            log.warning("media %s: no answer from the store within %.1f s", media_name, self._budget_s)
            return STORE_UNAVAILABLE
        except StoreError as exc:
            log.warning("media %s: store failed: %s", media_name, exc)
            return STORE_UNAVAILABLE

    async def _answer(self, media_name: str) -> Answer:
        name = names.parse(media_name)
        if isinstance(name, names.TtsName):
            return UNSUPPORTED_TTS
        if isinstance(name, names.InvalidName):
            log.info("media name %s: %s", media_name, name.reason)
            return _error("other", INVALID_MEDIA_NAME)
        remembered = isinstance(name, names.PromptName) or name.attachment is None
        if remembered:
            place = self.answers.get(media_name)
            if place is not None:
                return self._stream_url(place)
        generation = self.answers.generation
        if isinstance(name, names.PromptName):
            found = await self._prompts.find(name)
            if found is None:
                log.info("prompt %s not found in any language", media_name)
                return _error("not_found", INVALID_MEDIA_NAME)
            name = found
        audio = await self._resolver.resolve(name.db, name.doc_id, name.attachment)
        if isinstance(audio, Unresolved):
            if audio.failure is Failure.UNSUPPORTED_STORAGE:
                return _error("other", audio.reason)
            return _FAILURES[audio.failure]
        if remembered:
            self.answers.keep(media_name, audio.requested, generation=generation)
        return self._stream_url(audio.requested)

    def _stream_url(self, place: Place) -> Answer:
        return Answer(stream_url=self._endpoint.url_for(place.db, place.doc_id, place.attachment))

    async def _on_request(self, message: Message) -> None:
        media_name = message["Media-Name"]
        answer = await self.answer(media_name)
        server_id = message.server_id
        if not server_id:
            self.unanswered += 1
            log.warning("media_req for %s has no Server-ID: not answered (would have been %s)", media_name,
                        "a Stream-URL" if answer.ok else f"{answer.code}/{answer.message}")
            return
        fields = {"Msg-ID": message.msg_id, "Media-Name": media_name}
        if answer.ok:
            await self._bus.publish(m.MEDIA_RESP, {**fields, "Stream-URL": answer.stream_url}, to=server_id)
        else:
            await self._bus.publish(m.MEDIA_ERROR, {**fields, "Error-Code": answer.code, "Error-Msg": answer.message},
                                    to=server_id)
        self.answered += 1
        log.debug("media %s answered: %s", media_name, "Stream-URL" if answer.ok else answer.message)
