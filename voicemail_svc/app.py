"""Wiring of voicemail_svc: ``build(context)`` returns the service the runtime starts.

Dependencies, in the order they are made: a bus connection of its own, the
store, the config client, a reply queue for ``notify_update`` replies, boxes,
messages, MWI (with the shared ``mwi_query`` consumer and the MWI re-sent from
stored state at start, mwi_query.py), the notifier, the spool (with its retry task), the upload
endpoint (its own small HTTP site: ``KZ_PUBLIC_URL``'s port when it names one,
else an ephemeral port on ``KZ_HTTP_HOST``), the operator-callflow lookup, the
session runner, and the listener that takes actions and owns the sessions.

``session=`` replaces the session runner (tests of the listener alone); the
service then opens no store, config client, spool or upload endpoint.
"""

from __future__ import annotations

import logging
from typing import Any

from voicemail_svc.call_control import Timers
from voicemail_svc.listener import ACTIONS_QUEUE, SESSION_IDLE_TIMEOUT_S, SessionRunner, VoicemailListener
from voicemail_svc.session import Background, Deps, Sessions, default_check

log = logging.getLogger(__name__)

APP_NAME = "voicemail"
_UNSET: Any = object()


class VoicemailService:
    name = "voicemail"

    def __init__(self, context, *, timers: Timers | None = None, session: SessionRunner | None = None,
                 queue: str = ACTIONS_QUEUE, config_client=None, upload_host: str | None = None,
                 upload_port: int | None = None, public_url: str | None = None, transcriber=None, check=_UNSET,
                 spool_dir: str | None = None, spool_retry_s: float = 2.0, upload_ttl_s: float | None = None,
                 store=None, resend_mwi: bool = True, clock=None) -> None:
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
        self._upload_ttl_s = upload_ttl_s
        self._store = store
        self._resend_mwi = resend_mwi
        self._clock = clock
        self.mwi_queries = None
        self.bus = None
        self.listener: VoicemailListener | None = None
        self.deps: Deps | None = None
        self.sessions: Sessions | None = None
        self._notify_replies = None
        self._started = False

    async def start(self) -> None:
        self.bus = bus = await self._context.bus(APP_NAME)
        session = self._session
        if session is None:
            self.deps = await self._build_deps(bus)
            self.sessions = Sessions(self.deps)
            session = self.sessions.run
        idle = None
        if self.deps is not None and self.deps.config is not None:
            config = self.deps.config

            async def idle() -> float:
                return await config.get_integer("callflow", ["voicemail", "session_idle_timeout"],
                                                SESSION_IDLE_TIMEOUT_S)
        self.listener = VoicemailListener(bus, session, timers=self._timers, queue=self._queue,
                                          idle_timeout_s=idle)
        await self.listener.start()
        self._started = True

    async def _build_deps(self, bus) -> Deps:
        from callflow_svc.cache import RoutingCache
        from callflow_svc.lookup import Lookup
        from services.config.client import ConfigClient
        from voicemail_svc.mailbox import Mailboxes
        from voicemail_svc.messages import Messages
        from voicemail_svc.mwi import Mwi
        from voicemail_svc.notify import Notifier
        from voicemail_svc.spool import Spool
        from voicemail_svc.upload import DEFAULT_TTL_S, UploadServer

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
        background = Background()
        spool = Spool(self._spool_dir or settings.spool_dir, messages, on_stored=notifier.message_stored,
                      retry_s=self._spool_retry_s)
        await spool.start()
        uploads = UploadServer(secret=settings.upload_secret, sink=spool.receive,
                               host=self._upload_host or settings.http_host, port=self._upload_port,
                               public_url=settings.public_url if self._public_url is None else self._public_url,
                               ttl_s=self._upload_ttl_s or DEFAULT_TTL_S)
        await uploads.start()
        # operator lookups are rare: no routing cache (TTL 0), every lookup reads the store
        lookup = Lookup(store, RoutingCache(number_ttl=0, pattern_ttl=0, doc_ttl=0))

        async def find_callflow(account_id: str, number: str):
            found = await lookup.find(account_id, number)
            if found is None or found.is_no_match:
                return None
            return found.doc

        from voicemail_svc.mwi_query import MwiQueries
        self.mwi_queries = MwiQueries(bus, mwi, store=store, resend_on_start=self._resend_mwi)
        await self.mwi_queries.start()

        check = default_check() if self._check is _UNSET else self._check
        if check is None:
            log.warning("voicemail check is not installed: the check action and compose's login key only continue")
        return Deps(bus=bus, store=store, config=config, mailboxes=mailboxes, messages=messages, mwi=mwi,
                    notifier=notifier, uploads=uploads, spool=spool, find_callflow=find_callflow,
                    background=background, check=check, **({"clock": self._clock} if self._clock else {}))

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
            await self.deps.uploads.stop()
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
        replies, mwi_query and the config client's queues (services.runtime, "Readiness")."""
        return self._started and self.bus.ready


def build(context, **options) -> VoicemailService:
    return VoicemailService(context, **options)
