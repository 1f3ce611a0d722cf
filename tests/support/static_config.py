"""A ``ConfigClient`` that answers from dictionaries, with no bus and no config_svc (unit tests).

``StaticConfig(system={"callflow": {"voicemail": {"max_login_attempts": 2}}},
accounts={account_id: {"callflow": {...}}})``: ``resolve`` reads the account's
value first when an account is named (only that with ``strategy="account"``),
else the system value, else the caller's default.  Every typed getter is the
real client's, so values are coerced exactly as in the service.  The
dictionaries are read at every lookup (nothing is cached), so a test may
change them between calls.
"""

from __future__ import annotations

from typing import Any, Mapping

from services.config.client import ConfigClient, Key
from services.config.paths import MISSING, get_path, to_path


class _NoTransport:
    """No broker, so no reconnects to hear of."""

    def on_reconnect(self, listener):
        return lambda: None


class _NoBus:
    node = "static-config@test"
    transport = _NoTransport()


class StaticConfig(ConfigClient):
    def __init__(self, system: Mapping[str, Any] | None = None,
                 accounts: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__(_NoBus())
        self.system: Mapping[str, Any] = system if system is not None else {}
        self.accounts: Mapping[str, Mapping[str, Any]] = accounts if accounts is not None else {}

    async def start(self) -> "StaticConfig":
        return self

    async def close(self) -> None:
        return None

    async def resolve(self, category: str, key: Key, default: Any = MISSING, *, account: str | None = None,
                      strategy: str | None = None) -> Any:
        path = to_path(key)
        if account:
            own = get_path((self.accounts.get(account) or {}).get(category), path)
            if own is not MISSING:
                return own
            if strategy == "account":
                return default
        value = get_path(self.system.get(category), path)
        return default if value is MISSING else value
