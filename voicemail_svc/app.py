"""Wiring of voicemail_svc: ``build(context)`` returns the service the runtime starts.

Dependencies, in the order they are made: a bus connection of its own, the
store, the config client, a reply queue for ``notify_update`` replies, boxes,
messages, MWI (with the shared ``mwi_query`` consumer and the MWI re-sent from
stored state at start, notify/mwi_query.py), the notifier, the spool (with its
retry task), the URL signer (``KZ_UPLOAD_SECRET``), the audio resolver, the sink
for recorded greetings (announcing on ``configuration``), the media core of
media.md 6.1 (the ``/media/`` Stream-URL routes, mounted on the upload listener;
the ``media_req`` responder unless ``KZ_MEDIA_RESPONDER`` is off), the upload
endpoint (its own small HTTP site: ``KZ_PUBLIC_URL``'s port when it names one,
else an ephemeral port on ``KZ_HTTP_HOST``), message audio by signed URL
(message_audio.py), the callflow finder, then ``Deps`` and the listener that
takes actions and owns the sessions.  The responder's queues are on the
service's bus, so readiness waits for them too.

``ACTIONS`` is the table of voicemail actions (``data.action``, voicemail.md 1):
``compose`` (the default) and ``check`` (through ``deps.check``, the same
hand-over compose's login key uses); any other name does nothing and returns
``continue`` without answering.  ``Actions(deps)`` runs one action on
one call; it is what the listener runs per call.

Options of ``build`` (tests and the benchmark): ``session=`` replaces the
action runner (tests of the listener alone; the service then opens no store,
config client, spool or upload endpoint); ``check=`` replaces the compose ->
check hand-over; ``call_factory=`` makes the call control of each call;
``url_clock=`` is the Unix clock of signed URLs and of the responder's remembered
answers, ``media_budget_s=`` the responder's time for one answer.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Mapping

from services.config.client import ConfigClient
from services.media.answers import Answers
from services.media.audio import AudioResolver
from services.media.endpoint import MediaEndpoint
from services.media.prompts import PromptLookup
from services.media.responder import DEFAULT_BUDGET_S, MediaResponder
from services.media.signer import UrlSigner
from services.messages.etf import ActionResult
from services.runtime import ServiceContext, ServiceEntry
from services.store.interface import Store
from voicemail_svc.boxes.mailbox import CallInfo
from voicemail_svc.call_control import CallControl, CallFactory, Timers, bus_call
from voicemail_svc.check import run_check
from voicemail_svc.compose import run_compose
from voicemail_svc.deps import Background, CheckHandover, Deps, FindCallflow
from voicemail_svc.listener import ACTIONS_QUEUE, SESSION_IDLE_TIMEOUT_S, SessionRunner, VoicemailListener
from voicemail_svc.message_audio import MessageUrls

log = logging.getLogger(__name__)

APP_NAME = "voicemail"
CONTINUE = ActionResult("continue")

Action = Callable[[Deps, CallControl, CallInfo, Mapping[str, Any]], Awaitable[ActionResult]]


async def check_action(deps: Deps, call: CallControl, info: CallInfo, data: Mapping[str, Any]) -> ActionResult:
    """The ``check`` action: the same hand-over compose uses (``deps.check``), with no box yet."""
    return await deps.check(deps, call, info, data, box=None)


ACTIONS: Mapping[str, Action] = {"compose": run_compose, "check": check_action}


def action_name(data: Mapping[str, Any]) -> str:
    """``data.action``; missing or empty means ``compose``."""
    value = data.get("action")
    return value if isinstance(value, str) and value else "compose"


class Actions:
    """Runs one voicemail action per call with the service's dependencies."""

    def __init__(self, deps: Deps, table: Mapping[str, Action] = ACTIONS) -> None:
        self.deps = deps
        self.table = table

    async def run(self, call: CallControl, data: Mapping[str, Any], call_info: Mapping[str, Any]) -> ActionResult:
        name = action_name(data)
        action = self.table.get(name)
        if action is None:
            log.info("unknown voicemail action %r: nothing to do, continuing", name)
            return CONTINUE
        return await action(self.deps, call, CallInfo.from_call(call_info), data)


def callflow_finder(store: Store) -> FindCallflow:
    """The service's one callflow finder (operator key, callback): every lookup reads the store.

    Operator and callback lookups are rare, so there is no routing cache (TTL 0)."""
    from services.routing.cache import RoutingCache
    from services.routing.lookup import Lookup

    lookup = Lookup(store, RoutingCache(number_ttl=0, pattern_ttl=0, doc_ttl=0))

    async def find_callflow(account_id: str, number: str, *, no_match: bool = False) -> Mapping[str, Any] | None:
        found = await lookup.find(account_id, number)
        if found is None or (found.is_no_match and not no_match):
            return None
        return found.doc

    return find_callflow


def session_idle_timeout(config: ConfigClient) -> Callable[[], Awaitable[float]]:
    """``callflow`` ``voicemail.session_idle_timeout`` (seconds), read each time the listener's reaper asks."""
    async def idle() -> float:
        return await config.get_integer("callflow", ["voicemail", "session_idle_timeout"], SESSION_IDLE_TIMEOUT_S)

    return idle


class VoicemailService:
    name = "voicemail"

    def __init__(self, context: ServiceContext, *, timers: Timers | None = None,
                 session: SessionRunner | None = None, queue: str = ACTIONS_QUEUE, config_client=None,
                 upload_host: str | None = None, upload_port: int | None = None, public_url: str | None = None,
                 transcriber=None, check: CheckHandover = run_check, spool_dir: str | None = None,
                 spool_retry_s: float = 2.0, spool_store_timeout_s: float | None = None,
                 upload_ttl_s: float | None = None, store: Store | None = None,
                 resend_mwi: bool = True, clock: Callable[[], int] | None = None,
                 call_factory: CallFactory = bus_call, url_clock: Callable[[], float] | None = None,
                 media_budget_s: float = DEFAULT_BUDGET_S) -> None:
        self._context = context
        self._timers = timers or Timers()
        self._session = session
        self._queue = queue
        self._config_client = config_client
        self._owns_config = config_client is None
        self._upload_host = upload_host
        self._upload_port = upload_port
        self._public_url = public_url
        self._transcriber = transcriber
        self._check = check
        self._spool_dir = spool_dir
        self._spool_retry_s = spool_retry_s
        self._spool_store_timeout_s = spool_store_timeout_s
        self._upload_ttl_s = upload_ttl_s
        self._store = store
        self._resend_mwi = resend_mwi
        self._clock = clock
        self._call_factory = call_factory
        self._url_clock = url_clock
        self._media_budget_s = media_budget_s
        self.mwi_queries = None
        self.uploads = None
        self.media_endpoint: MediaEndpoint | None = None
        self.responder: MediaResponder | None = None
        self.bus = None
        self.listener: VoicemailListener | None = None
        self.deps: Deps | None = None
        self.actions: Actions | None = None
        self._notify_replies = None
        self._started = False

    async def start(self) -> None:
        self.bus = bus = await self._context.bus(APP_NAME)
        session = self._session
        if session is None:
            self.deps = await self._build_deps(bus)
            self.actions = Actions(self.deps)
            session = self.actions.run
        idle = session_idle_timeout(self.deps.config) if self.deps is not None else None
        self.listener = VoicemailListener(bus, session, timers=self._timers, queue=self._queue,
                                          idle_timeout_s=idle, call_factory=self._call_factory)
        await self.listener.start()
        self._started = True

    async def _build_deps(self, bus) -> Deps:
        from voicemail_svc.boxes.mailbox import Mailboxes
        from voicemail_svc.notify.mwi import Mwi
        from voicemail_svc.notify.mwi_query import MwiQueries
        from voicemail_svc.notify.notifier import Notifier
        from services.config.announce import Announcer
        from services.media.signer import Purpose
        from voicemail_svc.storage.messages import Messages
        from voicemail_svc.storage.recorded_media import RecordedMedia
        from voicemail_svc.storage.spool import Spool
        from voicemail_svc.storage.upload import DEFAULT_TTL_S, UploadServer

        settings = self._context.settings
        store = self._store if self._store is not None else await self._context.store()
        if self._config_client is None:
            self._config_client = await ConfigClient(bus).start()
        config = self._config_client
        self._notify_replies = await bus.reply_queue("voicemail_notify")
        mailboxes = Mailboxes(store, config)
        messages = Messages(store)
        mwi = Mwi(bus=bus, mailboxes=mailboxes, messages=messages, config=config)
        notifier = Notifier(bus=bus, replies=self._notify_replies, messages=messages, mailboxes=mailboxes, mwi=mwi,
                            transcriber=self._transcriber)
        spool = Spool(self._spool_dir or settings.spool_dir, messages, on_stored=notifier.message_stored,
                      retry_s=self._spool_retry_s,
                      **({"store_timeout_s": self._spool_store_timeout_s} if self._spool_store_timeout_s else {}))
        await spool.start()
        # the one signer of the service: upload URLs here, media Stream-URLs (services/media) too
        signer = UrlSigner(settings.upload_secret)
        if self._url_clock is not None:
            signer.clock = self._url_clock
        resolver = AudioResolver(store)
        recorded_media = RecordedMedia(store, Announcer(bus), resolver)
        uploads = UploadServer(signer=signer, sinks={Purpose.UPLOAD_MESSAGE: spool.receive,
                                                     Purpose.UPLOAD_MEDIA: recorded_media.receive},
                               host=self._upload_host or settings.http_host, port=self._upload_port,
                               public_url=settings.public_url if self._public_url is None else self._public_url,
                               ttl_s=self._upload_ttl_s or DEFAULT_TTL_S)
        # the media core (media.md 6.1): Stream-URLs under KZ_PUBLIC_URL, served by the upload listener
        endpoint = MediaEndpoint(resolver, signer, base_url=lambda: uploads.base_url, ttl_s=settings.media_url_ttl_s)
        await uploads.start(routes=endpoint.routes())
        self.uploads = uploads
        self.media_endpoint = endpoint
        if settings.media_responder:
            answers = Answers(clock=self._url_clock) if self._url_clock is not None else None
            self.responder = await MediaResponder(bus, resolver, endpoint, PromptLookup(store, config),
                                                  budget_s=self._media_budget_s, answers=answers).start()
        else:
            log.info("KZ_MEDIA_RESPONDER is off: media_req is left to another responder (KAZOO's media_mgr)")
        self.mwi_queries = MwiQueries(bus, mwi, store=store, resend_on_start=self._resend_mwi)
        await self.mwi_queries.start()
        return Deps(store=store, config=config, mailboxes=mailboxes, messages=messages, mwi=mwi,
                    notifier=notifier, uploads=uploads, spool=spool, recorded_media=recorded_media,
                    audio=resolver, message_audio=MessageUrls(resolver, endpoint),
                    find_callflow=callflow_finder(store), check=self._check, background=Background(),
                    **({"clock": self._clock} if self._clock else {}))

    async def stop(self, drain_timeout: float) -> bool:
        drained = True
        if self.listener is not None:
            drained = await self.listener.stop(drain_timeout, close=False)
        if self.mwi_queries is not None:
            drained = await self.mwi_queries.stop(drain_timeout) and drained
        if self.deps is not None:
            # messages still being saved need the listener's reply queue (send_http replies)
            drained = await self.deps.background.drain(drain_timeout) and drained
            await self.deps.spool.stop()
        if self.responder is not None:
            drained = await self.responder.stop(drain_timeout) and drained
        if self.uploads is not None:
            await self.uploads.stop()
        if self.listener is not None:
            await self.listener.close()
        if self._notify_replies is not None:
            await self._notify_replies.close()
        if self._owns_config and self._config_client is not None:
            await self._config_client.close()
        return drained

    @property
    def ready(self) -> bool:
        """Started, and every consumer on its bus consuming: actions, call events, replies, notify
        replies, mwi_query, the config client's queues and, when it runs, the media responder's
        (services.runtime, "Readiness")."""
        return self._started and self.bus.ready and (self.responder is None or self.responder.ready)


def build(context: ServiceContext, **options) -> VoicemailService:
    return VoicemailService(context, **options)


# voicemail reads its settings through config_svc when both run in one process
SERVICE = ServiceEntry(build=build, starts_after=("config",))
