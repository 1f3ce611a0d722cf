"""Reads of ``callflow`` keys whose rule combines several lookups (config.md 6).

Single-lookup keys are read with the client's typed getters directly, e.g.
``await config.get_integer("callflow", "route_win_timeout", 3000)``; the
helpers here cover the keys that read the account and the system in one rule.
"""

from __future__ import annotations

import logging

from services.config import coerce
from services.config.client import ConfigClient
from services.config.paths import MISSING

log = logging.getLogger(__name__)

CALLFLOW = "callflow"
MAILBOX_DEFAULT_SIZE = 100
MIN_MESSAGE_SIZE_MS = 500
RETENTION_DAYS = 93


async def _account_then_system_integer(config: ConfigClient, account_id: str | None, path: list[str],
                                       default: int) -> int:
    """acct->sys: the account's own value cast to an integer, else the system ``get_integer(default)``."""
    if account_id:
        own = await config.resolve(CALLFLOW, path, account=account_id, strategy="account")
        if own is not MISSING:
            try:
                return coerce.to_integer(own)
            except coerce.BadValue:
                log.warning("account %s: callflow %s = %r is not an integer; using the system value",
                            account_id, path, own)
    return await config.get_integer(CALLFLOW, path, default)


async def max_message_count(config: ConfigClient, account_id: str | None) -> int:
    """``voicemail.max_message_count``: account, then system (default 100); <= 0 means unlimited."""
    return await _account_then_system_integer(config, account_id, ["voicemail", "max_message_count"],
                                              MAILBOX_DEFAULT_SIZE)


async def min_message_size(config: ConfigClient, account_id: str | None) -> int:
    """``voicemail.min_message_size`` in ms: account, then system (default 500)."""
    return await _account_then_system_integer(config, account_id, ["voicemail", "min_message_size"],
                                              MIN_MESSAGE_SIZE_MS)


async def mwi_send_unsolicited_updates(config: ConfigClient, account_id: str | None) -> bool:
    """Both must allow: the system ``get_is_true(true)`` and the account's own value (default true)."""
    system = await config.get_is_true(CALLFLOW, "mwi_send_unsolicited_updates", True)
    if not system:
        return False
    if not account_id:
        return True
    return bool(await config.get_is_true(CALLFLOW, "mwi_send_unsolicited_updates", True,
                                         account=account_id, strategy="account"))


async def message_retention_days(config: ConfigClient, account_id: str | None) -> int:
    """``voicemail.message_retention_duration``: the account's raw integer > 0, else system ``get_integer(93)``."""
    path = ["voicemail", "message_retention_duration"]
    if account_id:
        own = await config.get_pos_integer(CALLFLOW, path, account=account_id, strategy="account")
        if own is not None:
            return own
    return await config.get_integer(CALLFLOW, path, RETENTION_DAYS)
