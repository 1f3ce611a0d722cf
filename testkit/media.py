"""Media for tests and benchmarks that run the gateway simulator (media.md 6.6, 6.7).

The simulator resolves every ``play`` as a real ecallmgr does: a ``media_req``, then a
GET of the Stream-URL.  So whatever a test plays must exist in a store a media
responder reads:

* :func:`seed_system_prompts` -- every system prompt (``kzvoice prompts seed``) as a tone
  placeholder (never espeak-ng: slow, and not needed), 1.5 s like the simulator's
  default prompt length; done once per store object; ``extra`` adds bare-named
  ``system_media`` documents and ``prompts`` more ``system_media`` prompt ids, for tests
  that play names of their own;
* :class:`MediaServer` -- voicemail_svc's media core on its own (the real
  :class:`~services.media.responder.MediaResponder` and ``/media/`` routes on a
  standalone HTTP site), for harnesses that run the simulator without voicemail_svc.
"""

from __future__ import annotations

import base64
import weakref
from typing import Any, Iterable

from services.media import wav
from services.media.audio import AudioResolver
from services.media.endpoint import MediaEndpoint, StandaloneSite
from services.media.names import SYSTEM_MEDIA
from services.media.prompts import PromptLookup
from services.media.responder import MediaResponder
from services.media.seeding import PLACEHOLDER_SECONDS, PromptVoice, prompt_document, seed_prompts
from services.media.signer import UrlSigner
from services.store import layout
from services.store.interface import NotFound

# one tone per length per process, shared by every seeding
_VOICE = PromptVoice(espeak=None)
_seeded: "weakref.WeakKeyDictionary[Any, set[str]]" = weakref.WeakKeyDictionary()
_tone_cache: dict[float, bytes] = {}


def tone(seconds: float = PLACEHOLDER_SECONDS) -> bytes:
    """A placeholder WAV of ``seconds`` (computed once per length)."""
    data = _tone_cache.get(seconds)
    if data is None:
        data = _tone_cache[seconds] = wav.tone(seconds)
    return data


async def seed_system_prompts(store, *, extra: Iterable[str] = (), prompts: Iterable[str] = (),
                              language: str | None = None) -> None:
    """The system prompts in ``store`` (tone placeholders), plus ``extra`` bare-named media
    (``system_media/<name>``, played as ``<name>``) and ``prompts`` (``prompt://.../<id>/<lang>``
    prompt ids that are not system prompts).  Repeating it on the same store costs nothing."""
    done = _seeded.setdefault(store, set())
    if "*" not in done:
        await seed_prompts(store, voice=_VOICE, language=language)
        done.add("*")
    audio = tone()
    lang = (language or "en-us").lower()
    for name in extra:
        if f"bare:{name}" in done:
            continue
        doc = {"_id": name, "name": name, "media_source": "upload", "streamable": True,
               "_attachments": {f"{name}.wav": {"content_type": "audio/wav", "data": _b64(audio)}}}
        await _put(store, SYSTEM_MEDIA, layout.stamp(doc, pvt_type="media", db=SYSTEM_MEDIA))
        done.add(f"bare:{name}")
    for prompt_id in prompts:
        if f"prompt:{prompt_id}" in done:
            continue
        await _put(store, SYSTEM_MEDIA, prompt_document(prompt_id, language=lang, audio=audio, extension=".wav",
                                                        description="test prompt"))
        done.add(f"prompt:{prompt_id}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def _put(store, db: str, doc: dict) -> None:
    await store.create_db(db)
    await store.put_over(db, doc)


class DefaultMediaConfig:
    """The configuration getters the prompt lookup uses, answering KAZOO's defaults (no config_svc)."""

    async def get(self, category: str, key: Any, default: Any = None, *, account: str | None = None,
                  strategy: str | None = None) -> Any:
        return default

    async def get_is_true(self, category: str, key: Any, default: Any = None, **where: Any) -> bool | None:
        return None if default is None else default is True or default == "true"


class MediaServer:
    """The media responder and its ``/media/`` routes on ``store``, without voicemail_svc."""

    def __init__(self, bus, store, *, secret: str = "testkit-media-secret", config=None) -> None:
        self.bus = bus
        self.store = store
        self.signer = UrlSigner(secret)
        self.config = config or DefaultMediaConfig()
        self.site: StandaloneSite | None = None
        self.responder: MediaResponder | None = None
        resolver = AudioResolver(store)
        self.endpoint = MediaEndpoint(resolver, self.signer,
                                      base_url=lambda: self.site.url if self.site is not None else "")
        self._resolver = resolver

    async def start(self) -> "MediaServer":
        self.site = await StandaloneSite(self.endpoint, host="127.0.0.1").start()
        self.responder = await MediaResponder(self.bus, self._resolver, self.endpoint,
                                              PromptLookup(self.store, self.config)).start()
        return self

    async def stop(self) -> None:
        if self.responder is not None:
            await self.responder.stop(1.0)
            self.responder = None
        if self.site is not None:
            await self.site.stop()
            self.site = None

    async def __aenter__(self) -> "MediaServer":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


async def put_media(store, account_id: str, media_id: str, *, audio: bytes | None = None,
                    attachment: str | None = None, content_type: str = "audio/wav") -> dict:
    """An account's media document (a greeting, an uploaded file) with one attachment, played as
    ``/<account id>/<media id>``; the audio defaults to the 1.5 s placeholder tone."""
    db = layout.account_db(account_id)
    await store.create_db(db)
    name = attachment or f"{media_id}.wav"
    data = tone() if audio is None else audio
    doc = {"_id": media_id, "name": media_id, "media_source": "upload", "streamable": True,
           "_attachments": {name: {"content_type": content_type, "data": _b64(data)}}}
    try:
        current = await store.get(db, media_id)
        doc = {**current, **doc, "_rev": current["_rev"]}
    except NotFound:
        pass
    return await store.put(db, layout.stamp(doc, pvt_type="media", db=db))
