"""The call as callflow_svc knows it: identity from route_req, control from route_win, the KVS.

``Call.to_json()`` is KAZOO's serialized call, the ``Call`` object of
bus.md 3.8.6: keys absent when unknown, ``Key-Value-Store`` without ``cf_flow``.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from services.exchanges import split_user_realm
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


class Call:
    """One call: ``fields`` (the keys of the serialized call), ``ccvs`` and the KVS.

    ``from_route_req`` keeps the route_req and fills ``fields`` in only when they are first read,
    which for a routed call is its route_win: most route_reqs an instance answers are won by
    another one, or never, and then building them would be wasted on the routing path."""

    __slots__ = ("_fields", "ccvs", "kvs", "_req", "_request_user")

    def __init__(self, fields: dict[str, Any], ccvs: dict[str, Any], kvs: dict[str, Any] | None = None) -> None:
        self._fields: dict[str, Any] | None = fields
        self.ccvs = ccvs
        self.kvs: dict[str, Any] = {} if kvs is None else kvs
        self._req: Mapping[str, Any] | None = None
        self._request_user = ""

    def __repr__(self) -> str:
        return f"<Call {self.call_id} account {self.account_id}>"

    # -- building -----------------------------------------------------------------------

    @classmethod
    def from_route_req(cls, req: Mapping[str, Any], *, request_user: str) -> "Call":
        """The call of a route_req whose CCVs carry ``Account-ID`` (callflow.md 2.2)."""
        ccvs = dict(req.get("Custom-Channel-Vars") or {})
        ccvs["Account-ID"]              # KeyError without it, as when the fields are built
        call = cls(None, ccvs)          # type: ignore[arg-type]
        call._req = req
        call._request_user = request_user
        return call

    @property
    def fields(self) -> dict[str, Any]:
        if self._fields is None:
            self._fields = self._fields_of_request()
        return self._fields

    def _fields_of_request(self) -> dict[str, Any]:
        req = self._req
        assert req is not None
        ccvs = req.get("Custom-Channel-Vars") or {}     # as the route_req had them
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
        fields["Request-User"] = self._request_user
        return fields

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
        return self._fields["Call-ID"] if self._fields is not None else self._req["Call-ID"]  # type: ignore[index]

    @property
    def account_id(self) -> str:
        if self._fields is not None:
            return self._fields["Account-ID"]
        return self._req["Custom-Channel-Vars"]["Account-ID"]                                  # type: ignore[index]

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
        self.fields.pop("Authorizing-ID", None)
        self.ccvs.pop("Authorizing-ID", None)

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
