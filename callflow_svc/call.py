"""The call as callflow_svc knows it: identity from route_req, control from route_win, the KVS.

``Call.to_json()`` is KAZOO's serialized call, the ``Call`` object of
bus.md 3.8.6: keys absent when unknown, ``Key-Value-Store`` without ``cf_flow``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

from services.bus.exchanges import split_user_realm
from services.store import layout

# route_req fields copied onto the call as they are (bus.md 3.8.6 keys).
_FROM_REQUEST = ("Call-ID", "Call-Direction", "Caller-ID-Name", "Caller-ID-Number", "Custom-Application-Vars",
                 "Custom-SIP-Headers", "From", "From-Tag", "To", "To-Tag", "Request", "Resource-Type",
                 "Switch-Hostname", "Switch-Nodename", "Switch-URI", "Switch-URL")

# Order of keys in the serialized call (bus.md 3.8.6).
CALL_KEYS = ("Account-DB", "Account-ID", "Authorizing-ID", "Authorizing-Type", "Bridge-ID", "Call-Bridged",
             "Call-Direction", "Call-ID", "Callee-ID-Name", "Callee-ID-Number", "Caller-ID-Name",
             "Caller-ID-Number", "Control-Queue", "Controller-Queue", "Custom-Application-Vars",
             "Custom-Channel-Vars", "Custom-SIP-Headers", "Fetch-ID", "From", "From-Realm", "From-Tag",
             "From-User", "Inception", "Is-Recording", "Is-Call-Forward", "Key-Value-Store", "Language",
             "Message-Left", "Other-Leg-Call-ID", "Owner-ID", "Request", "Request-Realm", "Request-User",
             "Resource-Type", "Switch-Hostname", "Switch-Nodename", "Switch-URI", "Switch-URL", "To", "To-Realm",
             "To-Tag", "To-User")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class Call:
    fields: dict[str, Any]
    ccvs: dict[str, Any]
    kvs: dict[str, Any] = field(default_factory=dict)

    # -- building -----------------------------------------------------------------------

    @classmethod
    def from_route_req(cls, req: Mapping[str, Any], *, request_user: str) -> "Call":
        """The call of a route_req whose CCVs carry ``Account-ID`` (callflow.md 2.2)."""
        ccvs = dict(req.get("Custom-Channel-Vars") or {})
        account_id = ccvs["Account-ID"]
        fields: dict[str, Any] = {k: req[k] for k in _FROM_REQUEST if req.get(k) not in (None, "")}
        fields["Account-ID"] = account_id
        fields["Account-DB"] = layout.account_db(account_id, encoded=True)
        for key in ("Authorizing-ID", "Authorizing-Type", "Owner-ID", "Fetch-ID", "Inception"):
            if _text(ccvs.get(key)):
                fields[key] = ccvs[key]
        for prefix, source in (("Request", "Request"), ("From", "From"), ("To", "To")):
            user, realm = split_user_realm(req.get(source, ""))
            fields[f"{prefix}-User"] = user
            if realm:
                fields[f"{prefix}-Realm"] = realm
        fields["Request-User"] = request_user
        return cls(fields=fields, ccvs=ccvs)

    def apply_route_win(self, win: Mapping[str, Any], *, controller_queue: str, callflow_id: str) -> None:
        """route_win: the control queue, its CCVs merged over ours, plus ``CallFlow-ID`` (callflow.md 3.3)."""
        self.fields["Control-Queue"] = win["Control-Queue"]
        self.fields["Controller-Queue"] = controller_queue
        if _text(win.get("Switch-Hostname")):
            self.fields["Switch-Hostname"] = win["Switch-Hostname"]
        win_ccvs = win.get("Custom-Channel-Vars")
        if isinstance(win_ccvs, dict):
            self.ccvs.update(win_ccvs)
            if _text(win_ccvs.get("Authorizing-ID")):
                self.fields["Authorizing-ID"] = win_ccvs["Authorizing-ID"]
        self.ccvs["CallFlow-ID"] = callflow_id

    # -- accessors ----------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.fields["Call-ID"]

    @property
    def account_id(self) -> str:
        return self.fields["Account-ID"]

    @property
    def control_queue(self) -> str | None:
        return self.fields.get("Control-Queue")

    @property
    def fetch_id(self) -> str | None:
        return _text(self.ccvs.get("Fetch-ID"))

    @property
    def authorizing_id(self) -> str | None:
        return _text(self.fields.get("Authorizing-ID"))

    @property
    def authorizing_type(self) -> str | None:
        return _text(self.fields.get("Authorizing-Type"))

    @property
    def request_user(self) -> str:
        return self.fields.get("Request-User", "")

    def clear_authorizing_id(self) -> None:
        """An unknown referrer: neither the CCV nor the call keep the authorizing id (callflow.md 2.2)."""
        self.ccvs.pop("Authorizing-ID", None)
        self.fields.pop("Authorizing-ID", None)

    def set_authorizing_id(self, endpoint_id: str) -> None:
        self.fields["Authorizing-ID"] = endpoint_id

    # -- serialization --------------------------------------------------------------------

    def to_json(self, **kvs_extra: Any) -> dict[str, Any]:
        """The ``Call`` object of bus.md 3.8.6; ``kvs_extra`` adds KVS values for this copy only."""
        kvs = {k: v for k, v in self.kvs.items() if k != "cf_flow" and v is not None}
        kvs.update(kvs_extra)
        values = dict(self.fields)
        values["Custom-Channel-Vars"] = copy.deepcopy(self.ccvs)
        values["Key-Value-Store"] = copy.deepcopy(kvs)
        return {k: values[k] for k in CALL_KEYS if values.get(k) not in (None, "")}
