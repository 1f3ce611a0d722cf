"""Message audio as voicemail_svc serves it (media.md 6.5), for tests that look at what a check played.

A message plays from a signed Stream-URL, ``<base>/media/<token>/<attachment>``, which
names neither the message nor its box.  ``PlayedMessages`` knows the secret the URLs
were signed with, so a test can say which message a ``play`` was for: :meth:`doc_id`
checks the token (signature, purpose ``play``, expiry) and gives its document id, and
:meth:`label` turns what the caller heard into message ids, so transcripts read as
before (``["vm-message_number", "say:1", <message id>, ...]``).

``MessageMedia`` is the same for stages that build ``Deps`` themselves: the service's
``MessageUrls`` on the stage's store, signed with ``SECRET``, and optionally the
``/media/`` routes on an HTTP site of their own, so the URLs open.
"""

from __future__ import annotations

from typing import Any, Iterable

from services.media.audio import AudioResolver
from services.media.endpoint import PATH_PREFIX, MediaEndpoint, StandaloneSite
from services.media.signer import Purpose, TokenRefused, UrlSigner
from voicemail_svc.message_audio import MessageUrls

SECRET = "voicemail-test-secret"


class PlayedMessages:
    def __init__(self, secret: str = SECRET) -> None:
        self.signer = UrlSigner(secret)

    def doc_id(self, url: Any) -> str | None:
        """The document a Stream-URL of ours opens; None for anything else (a prompt, a forged token)."""
        if not isinstance(url, str) or not url.startswith("http://") or PATH_PREFIX not in url:
            return None
        token = url.split(PATH_PREFIX, 1)[1].split("/", 1)[0]
        try:
            return self.signer.check(token, Purpose.PLAY).doc_id
        except TokenRefused:
            return None

    def label(self, heard: str) -> str:
        """What the caller heard, with a message's Stream-URL shown as the message id."""
        return self.doc_id(heard) or heard

    def labels(self, heard: Iterable[str]) -> list[str]:
        return [self.label(item) for item in heard]

    def plays(self, commands: Iterable[dict], message_id: str | None = None) -> list[dict]:
        """The ``play`` commands of message audio, optionally of one message."""
        return [c for c in commands if c.get("Application-Name") == "play"
                and (found := self.doc_id(c.get("Media-Name"))) is not None
                and (message_id is None or found == message_id)]


class MessageMedia(PlayedMessages):
    """``MessageUrls`` on ``store``; ``start()`` serves its URLs (without it they point at ``base_url``)."""

    def __init__(self, store, *, secret: str = SECRET, base_url: str = "http://voicemail.test:8090") -> None:
        super().__init__(secret)
        self._base_url = base_url
        self.site: StandaloneSite | None = None
        resolver = AudioResolver(store)
        self.endpoint = MediaEndpoint(resolver, self.signer, base_url=lambda: self.site.url if self.site
                                      else self._base_url)
        self.message_audio = MessageUrls(resolver, self.endpoint)

    async def start(self) -> "MessageMedia":
        self.site = await StandaloneSite(self.endpoint, host="127.0.0.1").start()
        return self

    async def stop(self) -> None:
        if self.site is not None:
            await self.site.stop()
