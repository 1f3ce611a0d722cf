"""What a check session works with, gathered once per call.

``CheckEnv`` holds the call (``CallInfo``), the service's ``Deps`` (store,
config client, boxes, messages, MWI, notifications) and the login guard,
plus ``CheckSettings``: the check-only settings that are not part of the
shared ``Profile`` (PIN hashing, concealed box numbers, the lockout policy).

The service's ``deps.Deps`` (built once in ``app.py``) is what every session
gets; ``build_env`` turns it into one call's environment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from services.config.client import ConfigClient
from services.store import layout
from services.store.interface import Store
from voicemail_svc.boxes.mailbox import CallInfo, Mailbox, Mailboxes
from voicemail_svc.boxes.profile import Profile, load_profile
from voicemail_svc.check.lockout import LockoutPolicy, LoginGuard
from voicemail_svc.deps import Deps
from voicemail_svc.storage.messages import Messages, RetentionEnforced

log = logging.getLogger(__name__)

CATEGORY = "callflow"


@dataclass(frozen=True)
class CheckSettings:
    """Check-only settings beyond KAZOO (spec README, policy 4), resolved once per call."""

    pin_hashing: bool = False              # callflow voicemail.pin_hashing
    conceal_box_numbers: bool = False      # callflow voicemail.conceal_box_numbers
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)

    @classmethod
    async def from_config(cls, config: ConfigClient | None, account_id: str | None) -> "CheckSettings":
        if config is None:
            return cls()
        account = account_id or None
        return cls(
            pin_hashing=bool(await config.get_is_true(CATEGORY, ["voicemail", "pin_hashing"], False,
                                                      account=account)),
            conceal_box_numbers=bool(await config.get_is_true(CATEGORY, ["voicemail", "conceal_box_numbers"],
                                                              False, account=account)),
            lockout=await LockoutPolicy.from_config(config),
        )


@dataclass
class CheckEnv:
    deps: Deps
    call_info: CallInfo
    data: Mapping[str, Any]
    settings: CheckSettings
    mailboxes: Mailboxes
    guard: LoginGuard
    retention_days: int = 93

    @property
    def store(self) -> Store:
        return self.deps.store

    @property
    def config(self) -> ConfigClient:
        return self.deps.config

    @property
    def account_id(self) -> str:
        return self.call_info.account_id

    @property
    def account_db(self) -> str:
        return layout.account_db(self.call_info.account_id)

    # -- boxes ---------------------------------------------------------------------------------

    async def resolve_box(self, data: Mapping[str, Any]) -> Mailbox | None:
        return await self.mailboxes.resolve(self.call_info, data)

    async def box_by_number(self, digits: str) -> Mailbox | None:
        return await self.mailboxes.by_number(self.account_id, digits)

    async def reload_box(self, box: Mailbox) -> Mailbox:
        fresh = await self.mailboxes.get(self.account_id, box.id)
        return fresh if fresh is not None else box

    async def profile(self, box: Mailbox | None, *, typed: bool = False) -> Profile:
        """The profile of ``box``; ``typed``: found by a typed number, so only ``{"id": ...}`` counts (1.2)."""
        data = {"id": box.id} if typed and box is not None else self.data
        return await load_profile(self.config, box=box, data=data, account_id=self.account_id,
                                  mailboxes=self.mailboxes)

    async def realm(self) -> str:
        return await self.mailboxes.realm(self.account_id)

    # -- messages and MWI ---------------------------------------------------------------------------

    @property
    def messages(self) -> Messages:
        return self.deps.messages

    async def listing(self, box: Mailbox) -> list[dict]:
        return await self.messages.listing(self.account_id, box.id, retention_days=self.retention_days)

    async def counts(self, box: Mailbox) -> tuple[int, int]:
        counts = await self.messages.counts(self.account_id, box.id, retention_days=self.retention_days)
        return counts.new, counts.saved

    async def set_folder(self, box: Mailbox, message: Mapping[str, Any], folder: str, *,
                         profile: Profile | None = None) -> dict | None:
        try:
            return await self.messages.set_folder(self.account_id, message["_id"], folder,
                                                  retention_days=self.retention_days)
        except RetentionEnforced:
            log.info("message %s is past retention: moved to deleted", message["_id"])
            return None

    async def delete_message(self, box: Mailbox, message: Mapping[str, Any], *, profile: Profile) -> None:
        """Key 7 (5.6): ``voicemail_deleted`` (reason ``dtmf``) when enabled, then folder ``deleted``."""
        if profile.vm_delete_amqp:
            doc = await self.messages.get(self.account_id, message["_id"])
            if doc is not None:
                await self.deps.notifier.voicemail_deleted(doc, box_id=box.id, reason="dtmf")
        await self.set_folder(box, message, "deleted")

    async def publish_mwi(self, box: Mailbox) -> None:
        await self.deps.mwi.box_update(box)


async def build_env(deps: Deps, call_info: CallInfo, data: Mapping[str, Any]) -> CheckEnv:
    settings = await CheckSettings.from_config(deps.config, call_info.account_id)
    return CheckEnv(deps=deps, call_info=call_info, data=dict(data), settings=settings,
                    mailboxes=deps.mailboxes, guard=LoginGuard(deps.store, settings.lockout))
