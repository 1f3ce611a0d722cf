"""Where the gateway fetches a stored message's audio: a fresh signed Stream-URL (media.md 6.5).

A message is never named ``/<account id>/<message id>``: KAZOO's media_mgr and our
responder look for that in the account database, and messages live in the monthly
one.  Like KAZOO's voicemail, the service builds the URL itself, with no media_req:
the one audio resolver finds the message's one attachment in its monthly database
(following a ``kz_att_link`` of a migrated message), and the media endpoint signs a
``play`` URL for it under ``KZ_PUBLIC_URL``.  The bytes are read when the gateway
fetches the URL, not here.

A message whose audio cannot be resolved (external storage, a broken link, no
attachment, the store down) gets ``None`` and one warning with the reason of media.md
6.2; the caller leaves its ``play`` out.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from services.media.audio import AudioResolver, Unresolved
from services.media.endpoint import MediaEndpoint
from services.store import layout

log = logging.getLogger(__name__)


class MessageUrls:
    """``deps.MessageAudio`` for the service: the resolver and the media endpoint it hosts."""

    def __init__(self, resolver: AudioResolver, endpoint: MediaEndpoint) -> None:
        self._resolver = resolver
        self._endpoint = endpoint

    async def url_for(self, account_id: str, message: Mapping[str, Any]) -> str | None:
        doc_id = str(message.get("_id", ""))
        try:
            db = layout.modb_of_doc_id(account_id, doc_id)
        except layout.InvalidName:
            log.warning("message %r left out of playback: its id names no monthly database", doc_id)
            return None
        audio = await self._resolver.resolve(db, doc_id, quiet=True)
        if isinstance(audio, Unresolved):
            log.warning("message %s left out of playback, its audio is not readable: %s", doc_id, audio.describe())
            return None
        place = audio.requested
        return self._endpoint.url_for(place.db, place.doc_id, place.attachment)
