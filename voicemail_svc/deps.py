"""What a voicemail session may use: ``Deps``, built once per service in ``app.py``.

Every field has its real type.  Where a session only needs a small part of a
collaborator that talks to the bus, the field is a ``Protocol`` naming that
part (``BoxMwi``, ``Notifications``, ``UploadUrls``, ``MessageAudio``,
``FindCallflow``), so a session runs against the real service or against
stand-ins in unit tests.

The compose -> check hand-over (voicemail.md 4.1: the owner of the box; 4.2,
4.4 and 4.5: the login key) is ``deps.check``, a ``CheckHandover``: in the
service it is ``voicemail_svc.check.run_check``, wired in ``app.py``, so
compose never imports check.  Compose calls it with the box it resolved: the
call is already answered, login (5.3) runs against that box with
``is_owner`` recomputed, and the end-of-check MWI is for that box.  The
``check`` action itself calls it with ``box=None`` (answer, resolve, log in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Protocol

from services.config.client import ConfigClient
from services.media.audio import AudioResolver
from services.messages.etf import ActionResult
from services.store import layout
from services.store.interface import Store
from services.tasks import OwnedTasks
from voicemail_svc.boxes.mailbox import CallInfo, Mailbox, Mailboxes
from voicemail_svc.call_control import CallControl
from voicemail_svc.storage.messages import Messages
from voicemail_svc.storage.recorded_media import RecordedMedia
from voicemail_svc.storage.spool import Spool, StoredMessage


class Background(OwnedTasks):
    """Work that outlives its call (a message saved after the result was sent); every task owned here."""

    def __init__(self) -> None:
        super().__init__("background task")


class FindCallflow(Protocol):
    """The account's callflow document for a number: exact, then patterns; ``no_match`` only when asked.

    Compose's operator key refuses the account's ``no_match`` callflow (4.2); the
    callback of 5.7 accepts it (step 4)."""

    def __call__(self, account_id: str, number: str, *,
                 no_match: bool = False) -> Awaitable[Mapping[str, Any] | None]: ...


class BoxMwi(Protocol):
    """MWI for one box (voicemail.md 7.1): ``notify.mwi.Mwi``."""

    async def box_update(self, box: Mailbox) -> None: ...


class Notifications(Protocol):
    """The notifications a session sends (voicemail.md 8): ``notify.notifier.Notifier``."""

    async def message_stored(self, stored: StoredMessage) -> None: ...

    async def voicemail_full(self, *, account_id: str, box_id: str, max_count: int, count: int,
                             account_db: str = "") -> None: ...

    async def voicemail_deleted(self, doc: Mapping[str, Any], *, box_id: str, reason: str) -> None: ...


class UploadUrls(Protocol):
    """Single-use upload URLs (bus.md 5.3) for a message's audio and for a media document's
    (a greeting recorded by phone): ``storage.upload.UploadServer``."""

    def url_for(self, account_id: str, doc_id: str, attachment: str) -> str: ...

    def media_url_for(self, db: str, doc_id: str, attachment: str) -> str: ...


class MessageAudio(Protocol):
    """What the gateway plays for a stored message (media.md 6.5): ``message_audio.MessageUrls``.

    A fresh signed ``http://`` Stream-URL of the message's audio, or None when that audio
    cannot be read (already logged as one warning): the message's ``play`` is left out."""

    async def url_for(self, account_id: str, message: Mapping[str, Any]) -> str | None: ...


class CheckHandover(Protocol):
    """``check.run_check``: the check action, or check after compose's login key with ``box``."""

    def __call__(self, deps: "Deps", call: CallControl, info: CallInfo, data: Mapping[str, Any], *,
                 box: Mailbox | None = None) -> Awaitable[ActionResult]: ...


@dataclass
class Deps:
    """What a voicemail session may use (built in app.py)."""

    store: Store
    config: ConfigClient
    mailboxes: Mailboxes
    messages: Messages
    mwi: BoxMwi
    notifier: Notifications
    uploads: UploadUrls
    message_audio: MessageAudio
    spool: Spool
    recorded_media: RecordedMedia       # greetings, names and temporary greetings recorded by phone
    audio: AudioResolver                # where a stored message's or media's audio is (services/media/audio.py)
    find_callflow: FindCallflow
    check: CheckHandover
    background: Background = field(default_factory=Background)
    clock: Callable[[], int] = layout.now_gregorian    # "now" of new messages, Gregorian seconds
