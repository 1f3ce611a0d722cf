"""The ``sysconf_listener`` queue: get_req, set_req and flush_req (config.md 4.2-4.5).

The queue is shared and non-exclusive, with KAZOO's name, flags, arguments and
bindings, so config_svc can replace KAZOO's sysconf or share load with it:
each request is handled by exactly one instance.  Replies go to ``targeted``
with the request's ``Server-ID`` as routing key; a request without one is
carried out but not answered.
"""

from __future__ import annotations

import logging
from typing import Any

from config_svc import documents as d
from config_svc.reads import Reads
from config_svc.writes import ERROR, Writes
from services import exchanges as x
from services.config.paths import MISSING, InvalidKey, to_path
from services.messages import catalogue
from services.messages.spec import Message

log = logging.getLogger(__name__)

QUEUE = "sysconf_listener"
BINDINGS = (x.SYSCONF_GET_KEY, x.SYSCONF_SET_KEY, x.SYSCONF_FLUSH_KEY)
UNDEFINED = "undefined"

GET_REQ = catalogue.get("sysconf.get_req")
GET_RESP = catalogue.get("sysconf.get_resp")
SET_REQ = catalogue.get("sysconf.set_req")
SET_RESP = catalogue.get("sysconf.set_resp")
FLUSH_REQ = catalogue.get("sysconf.flush_req")


def wire_value(value: Any) -> Any:
    """Missing and ``[]`` travel as the string ``"undefined"`` (config.md 2.4)."""
    if value is MISSING or value == []:
        return UNDEFINED
    return value


def is_true(value: Any) -> bool:
    return value is True or value == "true"


class SysconfListener:
    def __init__(self, bus, reads: Reads, writes: Writes, *, on_flush=None) -> None:
        self._bus = bus
        self._reads = reads
        self._writes = writes
        self._on_flush = on_flush
        self.consumer = None

    async def start(self) -> None:
        consumer = await self._bus.consumer(QUEUE, exclusive=False, auto_delete=True)
        for key in BINDINGS:
            await consumer.bind(x.SYSCONF, key)
        consumer.on(GET_REQ, self.handle_get).on(SET_REQ, self.handle_set).on(FLUSH_REQ, self.handle_flush)
        await consumer.start()
        self.consumer = consumer

    @property
    def running(self) -> bool:
        return self.consumer is not None and self.consumer.running

    # -- get_req ---------------------------------------------------------------------------

    async def handle_get(self, message: Message) -> None:
        category, path = message["Category"], self._path(message)
        if path is None:
            return
        account_field = message.get("Account-ID")
        strategy = None
        account_id = None
        if account_field:
            strategy = message.get("Strategy") or "global"
            account_id = d.account_id_of(account_field)
            if account_id is None:
                log.info("get_req for %s: Account-ID %r names no account; reading as without one",
                         category, account_field)
        value = await self._reads.get(category, path, default=message.get("Default", MISSING),
                                      node=message.get("Node"), account_id=account_id, strategy=strategy)
        if message.server_id is None:
            return
        reply = {"Msg-ID": message.msg_id, "Category": category, "Key": message["Key"], "Value": wire_value(value)}
        if account_field:
            reply["Account-ID"] = account_id or account_field
            # (ours) tell the requester the account is unknown; the Value is still the one above
            if account_id is None:
                reply["Error-Message"] = f"Account-ID {account_field!r} names no account"
            elif not await self._reads.account_exists(account_id):
                reply["Error-Message"] = f"account {account_id} does not exist"
        await self._bus.publish(GET_RESP, reply, to=message.server_id)

    # -- set_req ---------------------------------------------------------------------------

    async def handle_set(self, message: Message) -> None:
        category, path = message["Category"], self._path(message)
        if path is None:
            return
        value = message["Value"]
        account_field = message.get("Account-ID")
        if account_field:
            account_id = d.account_id_of(account_field)
            if account_id is None:
                result_status, error = ERROR, f"Account-ID {account_field!r} names no account"
            else:
                result = await self._writes.set_account(account_id, category, path, value)
                result_status, error = result.status, result.error
        elif is_true(message.get("Node-Specific")):
            node = message.get("Node")
            if not node:
                result_status, error = ERROR, "Node-Specific is true but the request has no Node"
            else:
                result = await self._writes.set_system(category, path, value, section=node)
                result_status, error = result.status, result.error
        else:
            result = await self._writes.set_system(category, path, value)
            result_status, error = result.status, result.error
        if error:
            log.warning("set_req %s %s: %s", category, list(path), error)
        if message.server_id is None:
            return
        reply = {"Msg-ID": message.msg_id, "Category": category, "Key": message["Key"], "Value": value,
                 "Status": result_status}
        if error:
            reply["Error-Message"] = error
        if account_field:
            reply["Account-ID"] = account_field
        await self._bus.publish(SET_RESP, reply, to=message.server_id)

    # -- flush_req ---------------------------------------------------------------------------

    async def handle_flush(self, message: Message) -> None:
        # Every read goes to the store, so there is nothing cached here to drop (config.md 5.2).
        log.info("flush_req for %s (nothing cached in config_svc)", message["Category"])
        if self._on_flush is not None:
            self._on_flush(message["Category"])

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _path(message: Message):
        try:
            return to_path(message["Key"])
        except InvalidKey as exc:
            log.warning("dropped %s: %s", message.spec.key, exc)
            return None
