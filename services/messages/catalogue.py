"""Every message kzvoice sends or receives, declared once (bus.md section 3).

Publishers, consumers, the in-memory bus and the contract test all read these
declarations.  Add a message by adding one ``_declare(...)`` call and one
schema file under ``schemas/messages/``.

Naming:

* ``key`` is the catalogue id: ``route.req``, ``command.<Application-Name>``,
  ``call_event.<Event-Name>``, ``error.dialplan``, otherwise
  ``<Event-Category>.<Event-Name>`` (``sysconf.get_req``,
  ``notification.voicemail_new``, ...);
* ``schema`` is ``<Event-Category>.<Event-Name>[.<Application-Name>].json``;
* ``kazoo_schema`` names KAZOO's schema of the same message (for the contract
  test), or ``None`` where KAZOO has none.

Routing keys derived from the body are built by the small functions below,
which only pick fields and call the builders of ``services.exchanges``.
A builder raises ``ValueError`` when the body lacks what the key needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterable

from services import exchanges as x
from services.messages.spec import MessageSpec, RoutingKey, to_destination

_BY_KEY: dict[str, MessageSpec] = {}
_BY_SELECTOR: dict[tuple[str, str, str | None], MessageSpec] = {}


def _declare(spec: MessageSpec) -> MessageSpec:
    if spec.key in _BY_KEY:
        raise ValueError(f"message {spec.key!r} declared twice")
    if spec.selector() in _BY_SELECTOR:
        raise ValueError(f"message {spec.key!r} has the selector of {_BY_SELECTOR[spec.selector()].key!r}")
    _BY_KEY[spec.key] = spec
    _BY_SELECTOR[spec.selector()] = spec
    return spec


def get(key: str) -> MessageSpec:
    return _BY_KEY[key]


def lookup(category: str, name: str, application_name: str | None = None) -> MessageSpec | None:
    """Find the declaration for an incoming message; commands also match on Application-Name."""
    return _BY_SELECTOR.get((category, name, application_name)) or _BY_SELECTOR.get((category, name, None))


def all_specs() -> Iterable[MessageSpec]:
    return _BY_KEY.values()


# ---- routing-key builders -------------------------------------------------

def _field(body: Mapping[str, Any], name: str, what: str) -> str:
    value = body.get(name)
    if not value or not isinstance(value, str):
        raise ValueError(f"{what}: the routing key needs a non-empty {name!r}")
    return value


def _route_req_key(body: Mapping[str, Any], _dest: str | None) -> str:
    """bus.md 3.1: account id (top level first, then CCV), else realm and user of ``From``."""
    ccv = body.get("Custom-Channel-Vars")
    account = body.get("Account-ID") or (ccv.get("Account-ID") if isinstance(ccv, Mapping) else None)
    resource_type = _field(body, "Resource-Type", "route_req")
    if account:
        return x.route_req_key(resource_type, account_id=account)
    user, realm = x.split_user_realm(_field(body, "From", "route_req"))
    return x.route_req_key(resource_type, realm=realm, user=user)


def _callevt_key(event_name: str) -> RoutingKey:
    """``call.<event>.<encoded Call-ID>`` on ``callevt`` (events 3.5, dialplan error 3.6, usurp 3.7)."""
    def key(body: Mapping[str, Any], _dest: str | None) -> str:
        return x.call_event_key(event_name, _field(body, "Call-ID", event_name))
    key.__name__ = f"callevt_key_{event_name}"
    return key


def _fixed_key(routing_key: str) -> RoutingKey:
    def key(_body: Mapping[str, Any], _dest: str | None) -> str:
        return routing_key
    key.__name__ = f"fixed_key_{routing_key.replace('.', '_')}"
    return key


def _action_execute_key(body: Mapping[str, Any], dest: str | None) -> str:
    """``callflow.action.<module>``: the module is the destination if given, else ``Call``'s
    ``Key-Value-Store.remote-action`` (bus.md 3.8.1, 3.8.6)."""
    module = dest
    if not module:
        call = body.get("Call")
        kvs = call.get("Key-Value-Store") if isinstance(call, Mapping) else None
        module = kvs.get("remote-action") if isinstance(kvs, Mapping) else None
    if not module or not isinstance(module, str):
        raise ValueError("action.execute: name the module as destination or in Call.Key-Value-Store.remote-action")
    return x.callflow_action_key(module)


def _mwi_update_key(body: Mapping[str, Any], _dest: str | None) -> str:
    return x.mwi_update_key(_field(body, "To", "mwi_update"))


def _mwi_unsolicited_key(body: Mapping[str, Any], _dest: str | None) -> str:
    _user, realm = x.split_user_realm(_field(body, "To", "mwi_unsolicited_update"))
    return x.mwi_unsolicited_key(realm)


def _mwi_query_key(body: Mapping[str, Any], _dest: str | None) -> str:
    return x.mwi_query_key(_field(body, "Realm", "mwi_query"))


def _doc_update_key(event_name: str) -> RoutingKey:
    """``doc_<action>.<db>.<type>.<encoded id>`` (bus.md 3.11).

    The action word is the Event-Name's, except that a soft delete is announced
    as ``doc_deleted`` on the routing key of the write that did it (``edited``).
    """
    action = event_name[len("doc_"):]

    def key(body: Mapping[str, Any], _dest: str | None) -> str:
        word = action
        if action == "deleted" and body.get("Is-Soft-Deleted") in (True, "true"):
            word = "edited"
        return x.doc_update_key(word, _field(body, "Database", event_name),
                                _field(body, "Type", event_name), _field(body, "ID", event_name))
    key.__name__ = f"doc_update_key_{action}"
    return key


def _db_update_key(event_name: str) -> RoutingKey:
    """``db_<action>.<db>.database.<db>`` (bus.md 3.11)."""
    action = event_name[len("db_"):]

    def key(body: Mapping[str, Any], _dest: str | None) -> str:
        return x.db_update_key(action, _field(body, "Database", event_name))
    key.__name__ = f"db_update_key_{action}"
    return key


def _doc_type_update_key(body: Mapping[str, Any], _dest: str | None) -> str:
    return x.doc_type_update_key(_field(body, 'Type', 'doc_type_update'))


def _switch_command_key(body: Mapping[str, Any], _dest: str | None) -> str:
    node = body.get("FreeSWITCH-Node")
    return x.switch_command_key(node if isinstance(node, str) and node else None)


def _notification_key(event_name: str) -> RoutingKey:
    return _fixed_key(x.notification_key(event_name))


# ---- 3.1 - 3.3 routing ------------------------------------------------------

ROUTE_REQ = _declare(MessageSpec(
    key="route.req", category="dialplan", name="route_req", exchange=x.CALLMGR,
    routing_key=_route_req_key,
    required=("Call-ID", "From", "To", "Request"),
    optional=("Resource-Type", "Custom-Channel-Vars", "Custom-Application-Vars", "Custom-SIP-Headers",
              "Caller-ID-Name", "Caller-ID-Number", "Call-Direction", "Context", "Destination-Number",
              "From-Tag", "To-Tag", "Switch-Hostname", "Switch-Nodename", "Switch-URL", "Switch-URI",
              "Transfer-Media", "Ringback-Media", "Media", "Prepend-CID-Name", "Origination-Call-ID",
              "User-Agent", "Message-ID", "Body", "Codecs", "Max-Call-Length", "Cost-Parameters"),
    schema="dialplan.route_req.json", kazoo_schema="kapi.route.req.json",
    description="gateway asks every router for a route (bus.md 3.1)",
))

ROUTE_RESP = _declare(MessageSpec(
    key="route.resp", category="dialplan", name="route_resp", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Msg-ID", "Method"),
    optional=("Routes", "Pre-Park", "Custom-Channel-Vars", "Custom-Application-Vars", "Transfer-Media",
              "Ringback-Media", "From-Realm", "From-URI", "From-User", "Route-Error-Code",
              "Route-Error-Message", "Application-Data", "Plan-Data", "Account-ID", "Call-ID",
              "Defer-Response"),
    schema="dialplan.route_resp.json", kazoo_schema="kapi.route.resp.json",
    description="a router's answer to route_req, to its Server-ID (bus.md 3.2)",
))

ROUTE_WIN = _declare(MessageSpec(
    key="route.win", category="dialplan", name="route_win", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Call-ID", "Control-Queue"),
    optional=("Custom-Channel-Vars", "Switch-Hostname"),
    schema="dialplan.route_win.json", kazoo_schema="kapi.route.win.json",
    description="the gateway tells the winning router where to send commands (bus.md 3.3)",
))


# ---- 3.4 call commands -------------------------------------------------------

def _command(application: str, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = (),
             now_only: bool = False, description: str = "") -> MessageSpec:
    values: dict[str, Any] = {"Application-Name": application}
    if now_only:
        values["Insert-At"] = "now"
    return _declare(MessageSpec(
        key=f"command.{application}", category="call", name="command", exchange=x.CALLCTL,
        routing_key=to_destination,
        required=("Call-ID", "Application-Name") + required,
        optional=optional + ("Insert-At",),
        values=values,
        schema=f"call.command.{application}.json", kazoo_schema=f"kapi.dialplan.{application}.json",
        wait_for_confirm=False, description=description,
    ))


_MEDIA_OPTIONAL = ("Terminators", "Group-ID", "Leg", "Endless-Playback", "Loop-Count", "Language", "Voice")

COMMANDS: Mapping[str, MessageSpec] = {spec.values["Application-Name"]: spec for spec in (
    _command("answer", description="answer the channel"),
    _command("hangup", optional=("Hangup-Cause", "Other-Leg-Only"), description="hang the channel up"),
    _command("play", required=("Media-Name",), optional=_MEDIA_OPTIONAL + ("Format",),
             description="play one media"),
    _command("tts", required=("Text",), optional=_MEDIA_OPTIONAL + ("Engine", "Conference-ID"),
             description="speak a text"),
    _command("say", required=("Say-Text", "Type", "Method", "Language"), optional=("Gender", "Group-ID"),
             description="say a number, date, spelled name, ..."),
    _command("tones", required=("Tones",), optional=("Terminators", "Group-ID", "Conference-ID"),
             description="play tones (the voicemail beep)"),
    _command("record", required=("Media-Name",),
             optional=("Terminators", "Time-Limit", "Silence-Threshold", "Silence-Hits"),
             description="record the caller to /tmp/<Media-Name>"),
    _command("play_and_collect_digits",
             required=("Minimum-Digits", "Maximum-Digits", "Timeout", "Terminators", "Media-Name",
                       "Media-Tries", "Digits-Regex"),
             optional=("Failed-Media-Name",),
             description="gateway-side digit collection (not used by our services)"),
    _command("noop", optional=("Filter-Applications", "B-Leg-Events"),
             description="completes with its own Msg-ID: the 'everything before me is done' marker"),
    _command("sleep", required=("Time",), description="wait Time ms"),
    _command("set", required=("Custom-Channel-Vars", "Custom-Call-Vars"),
             optional=("Custom-Application-Vars", "Export-All"), description="set channel/call variables"),
    _command("break", now_only=True, description="stop the current application"),
    _command("playstop", now_only=True, description="stop media playback"),
    _command("playseek", required=("Direction", "Duration"), now_only=True,
             description="fast-forward or rewind the playing media"),
    _command("store", required=("Media-Name", "Media-Transfer-Method", "Media-Transfer-Destination"),
             optional=("Additional-Headers", "Suppress-Error-Report"),
             description="legacy upload of a recording (bus.md 5.4)"),
    _command("store_vm", required=("Media-Name", "Media-Transfer-Method", "Media-Transfer-Destination"),
             optional=("Additional-Headers", "Suppress-Error-Report"),
             description="legacy upload of a voicemail recording (bus.md 5.4)"),
    _command("queue", required=("Commands",), description="several commands inserted at once (bus.md 4.1)"),
)}


# ---- 3.5 call events, 3.6 dialplan error, 3.7 usurp_control ------------------

_EVENT_COMMON = ("Timestamp", "Custom-Channel-Vars", "Custom-Application-Vars", "Call-Direction",
                 "Caller-ID-Name", "Caller-ID-Number", "Channel-State", "Channel-Call-State",
                 "Channel-Answer-State", "Other-Leg-Call-ID", "Presence-ID", "From", "To", "Request")


def _call_event(name: str, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = (),
                description: str = "") -> MessageSpec:
    return _declare(MessageSpec(
        key=f"call_event.{name}", category="call_event", name=name, exchange=x.CALLEVT,
        routing_key=_callevt_key(name),
        required=("Call-ID",) + required,
        optional=_EVENT_COMMON + tuple(f for f in optional if f not in _EVENT_COMMON),
        schema=f"call_event.{name}.json", kazoo_schema="kapi.call.event.json",
        call_event=True, description=description,
    ))


CALL_EVENTS: Mapping[str, MessageSpec] = {spec.name: spec for spec in (
    _call_event("CHANNEL_CREATE", description="the channel exists"),
    _call_event("CHANNEL_ANSWER", description="the channel was answered"),
    _call_event("CHANNEL_EXECUTE", required=("Application-Name",),
                optional=("Raw-Application-Name", "Raw-Application-Data"),
                description="a command started (optional for the gateway; nobody needs it)"),
    _call_event("CHANNEL_EXECUTE_COMPLETE", required=("Application-Name",),
                optional=("Application-Response", "Application-Data", "Raw-Application-Name",
                          "Raw-Application-Data", "Application-UUID"),
                description="a queued command finished (bus.md 4.2)"),
    _call_event("DTMF", required=("DTMF-Digit",), optional=("DTMF-Duration",), description="a key press"),
    _call_event("RECORD_START", optional=("Application-Name", "Application-Response", "Recording"),
                description="recording began"),
    _call_event("RECORD_STOP",
                optional=("Application-Name", "Application-Response", "Terminator", "Length",
                          "Silence-Terminated", "Recording"),
                description="recording ended"),
    _call_event("CHANNEL_DESTROY",
                optional=("Hangup-Cause", "Hangup-Code", "Disposition", "Duration-Seconds", "Billing-Seconds",
                          "Ringing-Seconds", "Media-Recordings"),
                description="the channel is gone; the last call event"),
)}

DIALPLAN_ERROR = _declare(MessageSpec(
    key="error.dialplan", category="error", name="dialplan", exchange=x.CALLEVT,
    routing_key=_callevt_key("dialplan"),
    required=("Error-Message", "Dialplan-Error", "Channel-State", "Channel-Call-State"),
    optional=("Request", "Call-ID", "Custom-Channel-Vars"),
    schema="error.dialplan.json", kazoo_schema="kapi.dialplan.error.json",
    call_event=True,  # KAZOO omits the call-id header here; ours SHOULD set it (bus.md 2.5)
    description="a command could not run (bus.md 3.6)",
))

USURP_CONTROL = _declare(MessageSpec(
    key="call_event.usurp_control", category="call_event", name="usurp_control", exchange=x.CALLEVT,
    routing_key=_callevt_key("usurp_control"),
    required=("Call-ID", "Fetch-ID"),
    optional=("Reason", "Media-Node"),
    schema="call_event.usurp_control.json", kazoo_schema=None,
    call_event=True,  # as for the dialplan error: a SHOULD of ours (bus.md 2.5)
    description="another controller takes the call (bus.md 3.7)",
))


# ---- 3.8 remote callflow actions ---------------------------------------------

ACTION_EXECUTE = _declare(MessageSpec(
    key="callflow.action.execute", category="callflow", name="action.execute", exchange=x.KAPPS,
    routing_key=_action_execute_key,
    required=("Call-ID", "Call"),
    optional=("Data",),
    schema="callflow.action.execute.json", kazoo_schema="kapi.callflow.action.execute.json",
    mandatory=True, description="run one flow node in another service (bus.md 3.8.1)",
))

ACTION_ACCEPTED = _declare(MessageSpec(
    key="callflow.action.accepted", category="callflow", name="action.accepted", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Msg-ID", "Call-ID"),
    schema="callflow.action.accepted.json", kazoo_schema="kapi.callflow.action.accepted.json",
    description="the action was taken (bus.md 3.8.2)",
))

ACTION_RESULT = _declare(MessageSpec(
    key="callflow.action.result", category="callflow", name="action.result", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Msg-ID", "Call-ID", "Result"),
    schema="callflow.action.result.json", kazoo_schema="kapi.callflow.action.result.json",
    description="the module's result, base64 Erlang term or JSON (bus.md 3.8.3, services.messages.etf)",
))

RESUME = _declare(MessageSpec(
    key="callflow.resume", category="callflow", name="resume", exchange=x.KAPPS,
    routing_key=_fixed_key(x.CALLFLOW_RESUME_KEY),
    required=("Call", "Flow"),
    schema="callflow.resume.json", kazoo_schema="kapi.callflow.resume.json",
    description="take an existing call and run Flow (bus.md 3.8.8; not used by kzvoice)",
))


# ---- 3.9 presence ----------------------------------------------------------------

_MWI_OPTIONAL = ("Call-ID", "Messages-Urgent", "Messages-Urgent-Saved", "Messages-Waiting",
                 "Extended-Presence-ID", "From", "From-User", "From-Realm", "To-User", "To-Realm",
                 "Presence-ID", "Message-Account", "Expires")

MWI_UPDATE = _declare(MessageSpec(
    key="presence.mwi_update", category="presence", name="mwi_update", exchange=x.PRESENCE,
    routing_key=_mwi_update_key,
    required=("To", "Messages-New", "Messages-Saved"), optional=_MWI_OPTIONAL,
    schema="presence.mwi_update.json", kazoo_schema="kapi.presence.mwi_update.json",
    description="message counts of one mailbox (bus.md 3.9, voicemail.md 7.1)",
))

MWI_UNSOLICITED_UPDATE = _declare(MessageSpec(
    key="presence.mwi_unsolicited_update", category="presence", name="mwi_unsolicited_update",
    exchange=x.PRESENCE, routing_key=_mwi_unsolicited_key,
    required=("To", "Messages-New", "Messages-Saved"), optional=_MWI_OPTIONAL,
    schema="presence.mwi_unsolicited_update.json", kazoo_schema="kapi.presence.mwi_unsolicited_update.json",
    description="message counts for one device (voicemail.md 7.2)",
))

MWI_QUERY = _declare(MessageSpec(
    key="presence.mwi_query", category="presence", name="mwi_query", exchange=x.PRESENCE,
    routing_key=_mwi_query_key,
    required=("Username", "Realm"), optional=("Call-ID",),
    schema="presence.mwi_query.json", kazoo_schema="kapi.presence.mwi_query.json",
    description="asks for an mwi_update of a mailbox or device (bus.md 3.9)",
))


# ---- 3.10 sysconf (config.md 4) ----------------------------------------------------

SYSCONF_GET_REQ = _declare(MessageSpec(
    key="sysconf.get_req", category="sysconf", name="get_req", exchange=x.SYSCONF,
    routing_key=_fixed_key(x.SYSCONF_GET_KEY),
    required=("Category", "Key"), optional=("Default", "Node", "Account-ID", "Strategy"),
    schema="sysconf.get_req.json", kazoo_schema="kapi.sysconf.get_req.json",
    description="read a config value (config.md 4.3)",
))

SYSCONF_GET_RESP = _declare(MessageSpec(
    key="sysconf.get_resp", category="sysconf", name="get_resp", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Msg-ID", "Category", "Key", "Value"), optional=("Node", "Account-ID"),
    schema="sysconf.get_resp.json", kazoo_schema="kapi.sysconf.get_resp.json",
    description="the value read, or \"undefined\" (config.md 4.3)",
    data_fields=("Value",),
))

SYSCONF_SET_REQ = _declare(MessageSpec(
    key="sysconf.set_req", category="sysconf", name="set_req", exchange=x.SYSCONF,
    routing_key=_fixed_key(x.SYSCONF_SET_KEY),
    required=("Category", "Key", "Value"), optional=("Node-Specific", "Node", "Account-ID"),
    schema="sysconf.set_req.json", kazoo_schema="kapi.sysconf.set_req.json",
    description="write a config value; Value null deletes (config.md 4.4)",
    data_fields=("Value",),
))

SYSCONF_SET_RESP = _declare(MessageSpec(
    key="sysconf.set_resp", category="sysconf", name="set_resp", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Msg-ID", "Category", "Key", "Value"), optional=("Status", "Error-Message", "Node", "Account-ID"),
    schema="sysconf.set_resp.json", kazoo_schema="kapi.sysconf.set_resp.json",
    description="outcome of a write, with our Status (config.md 4.4)",
    data_fields=("Value",),
))

SYSCONF_FLUSH_REQ = _declare(MessageSpec(
    key="sysconf.flush_req", category="sysconf", name="flush_req", exchange=x.SYSCONF,
    routing_key=_fixed_key(x.SYSCONF_FLUSH_KEY),
    required=("Category",), optional=("Key", "Node"),
    schema="sysconf.flush_req.json", kazoo_schema="kapi.sysconf.flush_req.json",
    description="drop what is cached for Category (config.md 4.5); no reply",
))


# ---- 3.11 configuration (document and database changes) ----------------------------

_DOC_OPTIONAL = ("Type", "Rev", "Account-ID", "Is-Soft-Deleted", "Date-Created", "Date-Modified",
                 "Origin-Cache", "Version", "Doc")


def _doc_change(event_name: str, routing_key: RoutingKey, description: str) -> MessageSpec:
    return _declare(MessageSpec(
        key=f"configuration.{event_name}", category="configuration", name=event_name,
        exchange=x.CONFIGURATION, routing_key=routing_key,
        required=("ID", "Database"), optional=_DOC_OPTIONAL,
        schema=f"configuration.{event_name}.json", kazoo_schema="kapi.conf.doc_update.json",
        description=description,
    ))


DOC_CHANGES: Mapping[str, MessageSpec] = {spec.name: spec for spec in (
    _doc_change("doc_created", _doc_update_key("doc_created"), "a document was created"),
    _doc_change("doc_edited", _doc_update_key("doc_edited"), "a document was changed"),
    _doc_change("doc_deleted", _doc_update_key("doc_deleted"), "a document was deleted (or soft-deleted)"),
    _doc_change("db_created", _db_update_key("db_created"), "a database was created"),
    _doc_change("db_edited", _db_update_key("db_edited"), "a database was changed"),
    _doc_change("db_deleted", _db_update_key("db_deleted"), "a database was deleted"),
    _doc_change("db_views_updated", _db_update_key("db_views_updated"), "a database's views were updated"),
)}

DOC_TYPE_UPDATE = _declare(MessageSpec(
    key="configuration.doc_type_update", category="configuration", name="doc_type_update",
    exchange=x.CONFIGURATION, routing_key=_doc_type_update_key,
    required=("Type",), optional=("Action", "Account-ID"),
    schema="configuration.doc_type_update.json", kazoo_schema="kapi.conf.doc_type_update.json",
    mandatory=True, description="documents of one type changed (KAZOO kapi_conf)",
))


# ---- 3.12 switch command (storage upload) ------------------------------------------

SWITCH_COMMAND = _declare(MessageSpec(
    key="switch_event.command", category="switch_event", name="command", exchange=x.SWITCH,
    routing_key=_switch_command_key,
    required=("Command", "Args"), optional=("FreeSWITCH-Node",),
    schema="switch_event.command.json", kazoo_schema=None,
    description="a node-level command to the media server, e.g. send_http (bus.md 3.12)",
))

SWITCH_REPLY = _declare(MessageSpec(
    key="switch_event.reply", category="switch_event", name="reply", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Msg-ID", "Command", "Result"), optional=("Error", "Event-Data", "Response", "FreeSWITCH-Node"),
    schema="switch_event.reply.json", kazoo_schema=None,
    description="the media server's answer to a switch command (bus.md 3.12)",
))


# ---- 3.13 notifications (voicemail.md 8) ---------------------------------------------

_VM_MESSAGE_REQUIRED = ("Account-ID", "From-User", "From-Realm", "To-User", "To-Realm", "Voicemail-Box",
                        "Voicemail-ID", "Voicemail-Timestamp")
_VM_MESSAGE_OPTIONAL = ("Account-DB", "Caller-ID-Number", "Caller-ID-Name", "Voicemail-Length", "Call-ID")


def _notification(event_name: str, *, required: tuple[str, ...], optional: tuple[str, ...],
                  description: str) -> MessageSpec:
    return _declare(MessageSpec(
        key=f"notification.{event_name}", category="notification", name=event_name, exchange=x.NOTIFICATIONS,
        routing_key=_notification_key(event_name),
        required=required, optional=optional,
        schema=f"notification.{event_name}.json", kazoo_schema=f"kapi.notifications.{event_name}.json",
        description=description,
    ))


VOICEMAIL_NEW = _notification(
    "voicemail_new", required=_VM_MESSAGE_REQUIRED, optional=_VM_MESSAGE_OPTIONAL + ("Voicemail-Transcription",),
    description="a message was stored; the notifier answers with notify_update (voicemail.md 8.1)")
VOICEMAIL_SAVED = _notification(
    "voicemail_saved", required=_VM_MESSAGE_REQUIRED, optional=_VM_MESSAGE_OPTIONAL,
    description="a new message stays new after notification (voicemail.md 8.2)")
VOICEMAIL_FULL = _notification(
    "voicemail_full", required=("Account-ID", "Voicemail-Box", "Max-Message-Count", "Message-Count"),
    optional=("Account-DB",), description="a caller reached a full box (voicemail.md 8.3)")
VOICEMAIL_DELETED = _notification(
    "voicemail_deleted", required=_VM_MESSAGE_REQUIRED + ("Reason",), optional=_VM_MESSAGE_OPTIONAL,
    description="a message was deleted (voicemail.md 8.4)")

NOTIFY_UPDATE = _declare(MessageSpec(
    key="notification.notify_update", category="notification", name="notify_update", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Msg-ID", "Status"), optional=("Failure-Message",),
    schema="notification.notify_update.json", kazoo_schema="kapi.notifications.notify_update.json",
    description="the notifier's progress on a notification, to its Server-ID (bus.md section 8, item 9)",
))


# ---- media (media.md 3): the gateway asks for a playable URL -------------------------------

MEDIA_REQ_KEY = "media_req"

MEDIA_REQ = _declare(MessageSpec(
    key="media.media_req", category="media", name="media_req", exchange=x.KAPPS,
    routing_key=_fixed_key(MEDIA_REQ_KEY),
    required=("Media-Name",),
    optional=("Stream-Type", "Call-ID", "Text", "Voice", "Language", "Format", "Account-ID", "Protocol", "Engine"),
    schema="media.media_req.json", kazoo_schema="kapi.media.media_req.json",
    description="the gateway asks for a Stream-URL of a media name (media.md 3, 2.2)",
))

MEDIA_RESP = _declare(MessageSpec(
    key="media.media_resp", category="media", name="media_resp", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Media-Name", "Stream-URL"),
    schema="media.media_resp.json", kazoo_schema="kapi.media.media_resp.json", wait_for_confirm=False,
    description="a signed http:// Stream-URL, to the request's Server-ID (media.md 3, 6.3)",
))

MEDIA_ERROR = _declare(MessageSpec(
    key="media.media_error", category="media", name="media_error", exchange=x.TARGETED,
    routing_key=to_destination,
    required=("Media-Name", "Error-Code"), optional=("Error-Msg",),
    schema="media.media_error.json", kazoo_schema="kapi.media.media_error.json", wait_for_confirm=False,
    description="why there is no Stream-URL, to the request's Server-ID (media.md 3, 6.2)",
))
