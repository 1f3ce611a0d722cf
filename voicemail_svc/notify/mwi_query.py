"""MWI on request and after a restart (voicemail.md 6.3, 7; spec README, "Beyond KAZOO").

* ``MwiQueries`` consumes presence ``mwi_query`` messages (``presence``
  ``mwi_queries.*``) on the shared queue ``voicemail_mwi_queries``, so one
  replica answers each query: an ``mwi_update`` for a box number, or an
  ``mwi_unsolicited_update`` for a device's SIP username (``Mwi.query``).
* ``resend_stored`` publishes the box MWI of every box that has messages, from
  the store, once when the service starts: a lamp whose update was lost while
  the service was down is set right without waiting for the phone to ask.
"""

from __future__ import annotations

import asyncio
import logging

from services.exchanges import PRESENCE
from services.messages import catalogue as m
from services.messages.spec import Message
from services.store import layout

log = logging.getLogger(__name__)

QUEUE = "voicemail_mwi_queries"
BINDING = "mwi_queries.*"


class MwiQueries:
    def __init__(self, bus, mwi, *, store=None, queue: str = QUEUE, resend_on_start: bool = True) -> None:
        self.bus = bus
        self.mwi = mwi
        self.store = store
        self.queue = queue
        self.resend_on_start = resend_on_start and store is not None
        self.consumer = None
        self.answered = 0
        self._resend: asyncio.Task | None = None

    async def start(self) -> None:
        self.consumer = await self.bus.consumer(self.queue, exclusive=False, auto_delete=True)
        await self.consumer.bind(PRESENCE, BINDING)
        self.consumer.on(m.MWI_QUERY, self._on_query)
        await self.consumer.start()
        if self.resend_on_start:
            self._resend = asyncio.get_running_loop().create_task(self._resend_logged(), name="mwi-resend")

    @property
    def running(self) -> bool:
        return self.consumer is not None and self.consumer.running

    async def _on_query(self, message: Message) -> None:
        await self.mwi.query(username=str(message["Username"]), realm=str(message["Realm"]))
        self.answered += 1

    async def _resend_logged(self) -> None:
        try:
            sent = await resend_stored(self.store, self.mwi)
            log.info("MWI re-sent from stored state for %d box(es)", sent)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("re-sending MWI from stored state failed")

    async def stop(self, drain_timeout: float) -> bool:
        if self._resend is not None and not self._resend.done():
            self._resend.cancel()
            await asyncio.gather(self._resend, return_exceptions=True)
        if self.consumer is not None:
            return await self.consumer.stop(drain_timeout)
        return True


async def resend_stored(store, mwi) -> int:
    """``box_update`` for every box of every account that has new or saved messages.

    Boxes are read with a ``Mailboxes`` of our own on ``store`` (``Mwi`` keeps its
    box reader private; ``get`` needs no configuration).
    """
    from voicemail_svc.boxes.mailbox import Mailboxes

    mailboxes = Mailboxes(store)
    sent = 0
    for db in await store.list_dbs():
        if not layout.is_account_db(db):
            continue
        account_id = layout.to_account_id(db)
        for row in await store.all_docs(db, include_docs=True):
            doc = row.get("doc") or {}
            if doc.get("pvt_type") != "vmbox" or doc.get("pvt_deleted"):
                continue
            box = await mailboxes.get(account_id, doc["_id"])
            if box is None:
                continue
            counts = await mwi.box_counts(box)
            if counts.total:
                await mwi.box_update(box)
                sent += 1
    return sent
