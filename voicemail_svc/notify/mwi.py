"""Message-waiting indication (voicemail.md 7, bus.md 3.9).

API (stable; ``check`` uses it too)::

    mwi = Mwi(bus=bus, mailboxes=mailboxes, messages=messages, config=config)
    await mwi.box_update(box)                 # owner/device updates, then the box's mwi_update
    await mwi.owner_update(account_id, owner_id)
    await mwi.query(username=..., realm=...)  # a presence mwi_query (6.3)

* ``box_update``: first the unsolicited updates for the box's owner (7.2),
  then ``mwi_update`` to ``<mailbox>@<account realm>`` with the stored
  ``new``/``saved`` counts (only messages whose audio is stored, inside the
  retention window), ``Call-ID`` = md5 of ``To`` and ``Extended-Presence-ID``
  = ``callflow.dialog_subscribed_mwi_prefix`` + mailbox when that key is set
  (account-global).  Urgent counts are never sent.
* Unsolicited updates go to every owned device with ``sip.method`` password,
  a SIP username and realm and ``mwi_unsolicited_updates`` not false, when
  both the system and the account allow them.

Publishing errors are logged, never raised: MWI is a hint the phone can ask for
again (``mwi_query``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from services.config import keys as config_keys
from services.messages import catalogue as m
from services.store import layout
from voicemail_svc.boxes.mailbox import Mailbox, Mailboxes
from voicemail_svc.storage.messages import Counts, Messages

log = logging.getLogger(__name__)


def mwi_call_id(to: str) -> str:
    return hashlib.md5(to.encode("utf-8")).hexdigest()


class Mwi:
    def __init__(self, *, bus, mailboxes: Mailboxes, messages: Messages, config=None) -> None:
        self._bus = bus
        self._mailboxes = mailboxes
        self._messages = messages
        self._config = config
        self.sent = 0

    async def _retention(self, account_id: str) -> int:
        if self._config is None:
            return config_keys.RETENTION_DAYS
        return await config_keys.message_retention_days(self._config, account_id)

    async def box_counts(self, box: Mailbox) -> Counts:
        return await self._messages.counts(box.account_id, box.id,
                                           retention_days=await self._retention(box.account_id))

    async def _prefix(self, account_id: str) -> str:
        if self._config is None:
            return ""
        value = await self._config.get("callflow", "dialog_subscribed_mwi_prefix", account=account_id)
        return value if isinstance(value, str) else ""

    async def _publish(self, spec, fields: Mapping[str, Any]) -> bool:
        try:
            await self._bus.publish(spec, fields)
        except Exception as exc:
            log.warning("publishing %s to %s failed: %s", spec.name, fields.get("To"), exc)
            return False
        self.sent += 1
        return True

    # -- 7.1 ---------------------------------------------------------------------------------

    async def box_update(self, box: Mailbox) -> None:
        """Owner/device updates for the box's owner, then the box's own ``mwi_update``."""
        try:
            if box.owner_id:
                await self.owner_update(box.account_id, box.owner_id)
            realm = await self._mailboxes.realm(box.account_id)
            if not box.number or not realm:
                log.info("box %s has no mailbox number or account realm: no MWI", box.id)
                return
            counts = await self.box_counts(box)
            to = f"{box.number}@{realm}"
            fields: dict[str, Any] = {"To": to, "Messages-New": counts.new, "Messages-Saved": counts.saved,
                                      "Call-ID": mwi_call_id(to)}
            prefix = await self._prefix(box.account_id)
            if prefix:
                fields["Extended-Presence-ID"] = f"{prefix}{box.number}"
            await self._publish(m.MWI_UPDATE, fields)
        except Exception:
            log.exception("MWI for box %s failed", box.id)

    # -- 7.2 ---------------------------------------------------------------------------------

    async def _unsolicited_allowed(self, account_id: str) -> bool:
        if self._config is None:
            return True
        return await config_keys.mwi_send_unsolicited_updates(self._config, account_id)

    async def owner_counts(self, account_id: str, owner_id: str) -> Counts:
        retention = await self._retention(account_id)
        new = saved = 0
        for box in await self._mailboxes.owned_by(account_id, owner_id):
            counts = await self._messages.counts(account_id, box.id, retention_days=retention)
            new, saved = new + counts.new, saved + counts.saved
        return Counts(new, saved)

    async def owner_update(self, account_id: str, owner_id: str) -> None:
        if not owner_id or not await self._unsolicited_allowed(account_id):
            return
        counts = await self.owner_counts(account_id, owner_id)
        realm = await self._mailboxes.realm(account_id)
        devices = await self._mailboxes.store.devices_by_owner(layout.account_db(account_id), owner_id)
        for device in devices:
            if not _has_single_owner(device):
                continue
            await self._endpoint(device, realm, counts)

    async def _endpoint(self, device: Mapping[str, Any], account_realm: str, counts: Counts) -> None:
        sip = device.get("sip") if isinstance(device.get("sip"), Mapping) else {}
        if sip.get("method") != "password":
            return
        username = sip.get("username")
        realm = sip.get("realm") or account_realm
        if not isinstance(username, str) or not username or not isinstance(realm, str) or not realm:
            return
        flag = device.get("mwi_unsolicited_updates", device.get("mwi_unsolicitated_updates", True))
        if flag is False or flag == "false":
            return
        await self._publish(m.MWI_UNSOLICITED_UPDATE, {"To": f"{username}@{realm}", "Messages-New": counts.new,
                                                       "Messages-Saved": counts.saved})

    # -- 6.3: mwi_query ---------------------------------------------------------------------------

    async def query(self, *, username: str, realm: str) -> None:
        """Answer a presence ``mwi_query``: a box by number, else a device by SIP username."""
        store = self._mailboxes.store
        account_id = await store.find_account_by_realm(realm)
        if account_id is None:
            return
        try:
            int(username)
            numeric = True
        except ValueError:
            numeric = False
        if numeric:
            box = await self._mailboxes.by_number(account_id, username)
            if box is not None:
                await self.box_update(box)
                return
        entries = await store.endpoints_by_sip_username(layout.account_db(account_id), username)
        if not entries:
            return
        device = await self._mailboxes.device(account_id, entries[0][0])
        if device is None:
            return
        owner_id = device.get("owner_id") if isinstance(device.get("owner_id"), str) else ""
        counts = await self.owner_counts(account_id, owner_id) if owner_id else Counts()
        await self._endpoint(device, await self._mailboxes.realm(account_id), counts)


def _has_single_owner(device: Mapping[str, Any]) -> bool:
    hotdesk = device.get("hotdesk")
    users = hotdesk.get("users") if isinstance(hotdesk, Mapping) else None
    if isinstance(users, Mapping) and users:
        return len(users) == 1
    return isinstance(device.get("owner_id"), str) and bool(device.get("owner_id"))
