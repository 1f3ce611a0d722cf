"""Media names: what a gateway plays as it is, and what a media name points at (media.md 2.1, 4.1, 4.2).

Two questions, two functions:

* :func:`gateway_handling` -- what ecallmgr does with a ``Media-Name`` before any
  lookup (2.1): FreeSWITCH plays it itself, it is a local recording, it is a URL
  to fetch, or it needs a ``media_req``.  The gateway simulator asks this.
* :func:`parse` -- what a ``media_req``'s name means to the responder (4.1):
  a :class:`PromptName`, a :class:`TtsName`, a :class:`StoredMedia` (one database,
  one document, an attachment or "the first"), or an :class:`InvalidName`.

Only names are handled here: no store, no configuration.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import unquote

from services.store import layout

SYSTEM_MEDIA = "system_media"
PROMPT_SCHEME = "prompt://"
TTS_SCHEME = "tts://"

_ACCOUNT_ID = re.compile(r"^[a-z0-9]{32}$")


# --- the gateway's side (2.1) -------------------------------------------------------------


class GatewayHandling(enum.Enum):
    AS_IS = "as_is"                       # FreeSWITCH plays the name itself (silence, tones, say:, ...)
    LOCAL_RECORDING = "local_recording"   # local_stream://: a recording on the media server
    URL = "url"                           # http(s)://: fetched directly, no media_req
    MEDIA_REQ = "media_req"               # everything else: ask a media responder


_AS_IS_PREFIXES = ("say:", "silence_stream://", "tone_stream://", "shout://", "/tmp/", "http_cache://", "$")


def gateway_handling(media_name: str | None) -> GatewayHandling:
    """How ecallmgr's ``media_path/4`` treats ``media_name`` before any lookup.  An
    absent or empty name plays as ``silence_stream://5``, i.e. as is."""
    if not media_name or media_name == "silence" or media_name.startswith(_AS_IS_PREFIXES):
        return GatewayHandling.AS_IS
    if media_name.startswith("local_stream://"):
        return GatewayHandling.LOCAL_RECORDING
    if media_name.startswith(("http://", "https://")):
        return GatewayHandling.URL
    return GatewayHandling.MEDIA_REQ


# --- the responder's side (4.1, 4.2) ------------------------------------------------------


@dataclass(frozen=True)
class PromptName:
    """``prompt://<account id | system_media>/<prompt id>[/<language>]``."""

    account: str               # a raw account id, or "system_media"
    prompt_id: str
    language: str | None       # lower-cased; None: the account's prompt language

    @property
    def is_system(self) -> bool:
        return self.account == SYSTEM_MEDIA


@dataclass(frozen=True)
class TtsName:
    """``tts://<id>``: text to speech, which kzvoice does not serve."""

    text_id: str


@dataclass(frozen=True)
class StoredMedia:
    """One attachment of one document; ``attachment`` None means "the first one"."""

    db: str                    # raw database name
    doc_id: str
    attachment: str | None


@dataclass(frozen=True)
class InvalidName:
    """A name that points at nothing kzvoice can look for (``invalid_media_name``)."""

    reason: str


MediaName = PromptName | TtsName | StoredMedia | InvalidName


def parse(media_name: str) -> MediaName:
    """What ``media_name`` points at, following KAZOO's name forms (media.md 4.1)."""
    if media_name.startswith(PROMPT_SCHEME):
        return _prompt(media_name[len(PROMPT_SCHEME):])
    if media_name.startswith(TTS_SCHEME):
        return TtsName(media_name[len(TTS_SCHEME):])
    # split first, then decode each part: an encoded %2F survives inside a document id
    parts = [unquote(part) for part in media_name.split("/") if part]
    if not parts:
        return InvalidName("empty name")
    if len(parts) == 1:
        return StoredMedia(SYSTEM_MEDIA, parts[0], None)
    if len(parts) == 2:
        where, doc_id = parts
        if where == SYSTEM_MEDIA:
            return StoredMedia(SYSTEM_MEDIA, doc_id, None)
        account_id = account_of(where)
        if account_id is None:
            return InvalidName(f"{where!r} is neither system_media nor an account")
        # a monthly database names its account here (KAZOO looks in the account database)
        return StoredMedia(layout.account_db(account_id), doc_id, None)
    if len(parts) == 3:
        where, middle, last = parts
        if where == SYSTEM_MEDIA:
            return StoredMedia(SYSTEM_MEDIA, f"{middle}/{last}", None)
        db = _database(where)
        if db is None:
            return InvalidName(f"{where!r} is not a database name")
        return StoredMedia(db, middle, last)
    return InvalidName(f"{len(parts)} parts; at most 3 name a document and attachment")


def account_of(text: str) -> str | None:
    """The account a name part stands for: a 32-character id, or an account or monthly
    database name (raw or encoded); None for anything else."""
    if _ACCOUNT_ID.match(text):
        return text
    parts = layout.parse_account_db(text)
    return parts[0] if parts is not None else None


def _database(text: str) -> str | None:
    """The database of a three-part name: an account id or account database means the
    account database; a monthly database, or any other valid name, as given."""
    if _ACCOUNT_ID.match(text):
        return layout.account_db(text)
    try:
        return layout.normalize_db_name(text)
    except layout.InvalidName:
        return None


def _prompt(rest: str) -> PromptName | InvalidName:
    parts = rest.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        return InvalidName(f"prompt:// takes 2 or 3 parts, got {rest!r}")
    owner = parts[0]
    if owner != SYSTEM_MEDIA:
        owner = account_of(owner)
        if owner is None:
            return InvalidName(f"prompt:// owner {parts[0]!r} is neither system_media nor an account")
    language = parts[2].lower() if len(parts) == 3 else None
    return PromptName(owner, parts[1], language)


def language_keys(language: str) -> list[str]:
    """The languages tried for ``language``, most specific first (media.md 4.2):
    ``xx`` -> ``[xx]``; ``xx-yy`` -> ``[xx-yy, xx]``; ``xx-yy_zz-ww`` -> ``[xx-yy_zz-ww, xx-yy, xx]``;
    anything else -> ``[language]``.  Lower-cased."""
    language = language.lower()
    if re.fullmatch(r"[a-z]{2}", language):
        return [language]
    if re.fullmatch(r"[a-z]{2}-[a-z]{2}", language):
        return [language, language[:2]]
    if re.fullmatch(r"[a-z]{2}-[a-z]{2}_[a-z]{2}-[a-z]{2}", language):
        return [language, language[:5], language[:2]]
    return [language]
