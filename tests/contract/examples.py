"""A realistic example of every declared message, as it travels on the wire.

One builder per declaration key.  Where bus.md section 3 shows a JSON example
it is used as given (with the ``App-Version`` and ``Node`` it leaves out);
the others follow the field lists of bus.md, config.md section 4 and
voicemail.md sections 7-8.  Builders return a fresh dict each call, so tests
may change what they get.
"""

from __future__ import annotations

from typing import Any, Callable

Body = dict[str, Any]

ACCOUNT_ID = "4fe69c5b61015084f1fe5684abc6e502"
ACCOUNT_DB = "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"
CALL_ID = "at6dmu4ffk97vnlp6qfq"
FETCH_ID = "a60aea8c-67f2-11e5-8465-3390f8e3460f"
CALLFLOW_ID = "3a8f0c2b5d6e4f7a8b9c0d1e2f3a4b5c"
GATEWAY_QUEUE = "gw-ctl-7f3a"
CALLFLOW_QUEUE = "callflow_route_5d1c0a9e8b7f6a5d4c3b2a1f0e9d8c7b"
REALM = "acme.example.com"
TIMESTAMP = 63877478400  # Gregorian seconds
ALL_KEYS = ["#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]

EXAMPLES: dict[str, Callable[[], Body]] = {}


def example(key: str) -> Callable[[Callable[[], Body]], Callable[[], Body]]:
    def register(builder: Callable[[], Body]) -> Callable[[], Body]:
        if key in EXAMPLES:
            raise ValueError(f"two examples for {key}")
        EXAMPLES[key] = builder
        return builder
    return register


def build(key: str) -> Body:
    return EXAMPLES[key]()


def _envelope(category: str, name: str, *, app: str, version: str, node: str, msg_id: str, **fields: Any) -> Body:
    return {"Event-Category": category, "Event-Name": name, "App-Name": app, "App-Version": version,
            "Node": node, "Msg-ID": msg_id, **fields}


# ---- 3.1 - 3.3 routing --------------------------------------------------------------

@example("route.req")
def route_req() -> Body:  # bus.md 3.1
    return _envelope(
        "dialplan", "route_req", app="freeswitch", version="1.0", node="gateway@sim", msg_id=FETCH_ID,
        **{"Server-ID": GATEWAY_QUEUE, "Call-ID": CALL_ID, "Resource-Type": "audio", "Call-Direction": "inbound",
           "Request": f"*97@{REALM}", "To": f"*97@{REALM}", "From": f"356@{REALM}",
           "Caller-ID-Name": "web phone", "Caller-ID-Number": "356", "Switch-Nodename": "gateway@sim",
           "Custom-Channel-Vars": {"Account-ID": ACCOUNT_ID, "Authorizing-ID": "d509114b66efabf32dfd78dc464b46dd",
                                   "Authorizing-Type": "device", "Owner-ID": "699ed7e3d583e2577ac017c575f87262",
                                   "Fetch-ID": FETCH_ID, "Realm": REALM, "Username": "user_356"}})


@example("route.resp")
def route_resp() -> Body:  # bus.md 3.2
    return _envelope(
        "dialplan", "route_resp", app="callflow", version="4.0.0", node="callflow_svc@pod-a", msg_id=FETCH_ID,
        **{"Server-ID": CALLFLOW_QUEUE, "Account-ID": ACCOUNT_ID, "Call-ID": CALL_ID, "Method": "park",
           "Routes": [], "Pre-Park": "none", "Custom-Channel-Vars": {"CallFlow-ID": CALLFLOW_ID}})


@example("route.win")
def route_win() -> Body:  # bus.md 3.3
    return _envelope(
        "dialplan", "route_win", app="ecallmgr", version="4.0.0", node="gateway@sim", msg_id=CALL_ID,
        **{"Server-ID": GATEWAY_QUEUE, "Call-ID": CALL_ID, "Control-Queue": GATEWAY_QUEUE,
           "Custom-Channel-Vars": {"Account-ID": ACCOUNT_ID, "Authorizing-Type": "device", "Fetch-ID": FETCH_ID,
                                   "CallFlow-ID": CALLFLOW_ID, "Application-Name": "callflow",
                                   "Application-Node": "callflow_svc@pod-a", "Ecallmgr-Node": "gateway@sim"}})


# ---- 3.4 call commands ------------------------------------------------------------

def _command(application: str, msg_id: str = "0b8d2f6e1c4a4e9f8a7b6c5d4e3f2a1b", **fields: Any) -> Body:
    return _envelope("call", "command", app="voicemail", version="4.0.0", node="voicemail_svc@pod-b",
                     msg_id=msg_id, **{"Server-ID": "voicemail_actions-3f2a", "Call-ID": CALL_ID,
                                       "Application-Name": application, **fields})


@example("command.answer")
def command_answer() -> Body:
    return _command("answer")


@example("command.hangup")
def command_hangup() -> Body:
    return _command("hangup", **{"Insert-At": "now", "Hangup-Cause": "NORMAL_CLEARING", "Other-Leg-Only": False})


@example("command.play")
def command_play() -> Body:
    return _command("play", **{"Media-Name": f"prompt://{ACCOUNT_ID}/vm-enter_pass/en-us", "Terminators": ALL_KEYS,
                               "Endless-Playback": False, "Group-ID": "vm-menu-1", "Language": "en-us"})


@example("command.tts")
def command_tts() -> Body:
    return _command("tts", **{"Text": "You have two new messages", "Voice": "male", "Engine": "flite",
                              "Language": "en-us", "Terminators": ALL_KEYS})


@example("command.say")
def command_say() -> Body:
    return _command("say", **{"Say-Text": "2", "Type": "number", "Method": "pronounced", "Language": "en-us",
                              "Gender": "feminine", "Group-ID": "vm-count"})


@example("command.tones")
def command_tones() -> Body:  # bus.md 3.4, the voicemail beep
    return _command("tones", **{"Tones": [{"Frequencies": ["440"], "Duration-ON": "500", "Duration-OFF": "100"}],
                                "Terminators": ALL_KEYS})


@example("command.record")
def command_record() -> Body:  # KAZOO sends the numbers as strings (bus.md 3.4, 7.1)
    return _command("record", **{"Media-Name": "5d41402abc4b2a76b9719d911017c592.mp3", "Terminators": ALL_KEYS,
                                 "Time-Limit": "300", "Silence-Threshold": "200", "Silence-Hits": "5"})


@example("command.play_and_collect_digits")
def command_play_and_collect_digits() -> Body:  # the code sends integers (bus.md 7.1)
    return _command("play_and_collect_digits",
                    **{"Minimum-Digits": 1, "Maximum-Digits": 4, "Timeout": 5000, "Terminators": ["#"],
                       "Media-Name": f"prompt://{ACCOUNT_ID}/vm-enter_pass/en-us", "Media-Tries": 3,
                       "Digits-Regex": "\\d+", "Failed-Media-Name": f"prompt://{ACCOUNT_ID}/vm-fail_auth/en-us"})


@example("command.noop")
def command_noop() -> Body:  # a filter is an array (bus.md 4.1.1, 7.2)
    return _command("noop", msg_id="9f0e7a2c4b3d4c1e8f6a5b4c3d2e1f00",
                    **{"Insert-At": "now", "Filter-Applications": ["play", {"Application-Name": "say",
                                                                            "Fields": {"Group-ID": "vm-count"}}]})


@example("command.sleep")
def command_sleep() -> Body:
    return _command("sleep", **{"Time": "50"})


@example("command.set")
def command_set() -> Body:
    return _command("set", **{"Insert-At": "now", "Custom-Channel-Vars": {"Voicemail-Box": "3456"},
                              "Custom-Call-Vars": {}, "Export-All": False})


@example("command.break")
def command_break() -> Body:
    return _command("break", **{"Insert-At": "now"})


@example("command.playstop")
def command_playstop() -> Body:
    return _command("playstop", **{"Insert-At": "now"})


@example("command.playseek")
def command_playseek() -> Body:  # Duration is an integer (bus.md 7.7)
    return _command("playseek", **{"Insert-At": "now", "Direction": "rewind", "Duration": 10000})


def _store(application: str) -> Body:
    return _command(application, **{"Insert-At": "now", "Media-Name": "5d41402abc4b2a76b9719d911017c592.mp3",
                                    "Media-Transfer-Method": "put",
                                    "Media-Transfer-Destination": "http://voicemail.local:8080/store/t0k3n/vm.mp3",
                                    "Additional-Headers": ["X-Upload: 1"], "Suppress-Error-Report": True})


@example("command.store")
def command_store() -> Body:
    return _store("store")


@example("command.store_vm")
def command_store_vm() -> Body:
    return _store("store_vm")


@example("command.queue")
def command_queue() -> Body:  # bus.md 3.4: what a blocking prompt sends
    return _envelope(
        "call", "command", app="callflow", version="4.0.0", node="callflow_svc@pod-a",
        msg_id="0b8d2f6e1c4a4e9f8a7b6c5d4e3f2a1b",
        **{"Server-ID": CALLFLOW_QUEUE, "Call-ID": CALL_ID, "Application-Name": "queue",
           "Commands": [
               {"Application-Name": "noop", "Call-ID": CALL_ID, "Msg-ID": "9f0e7a2c4b3d4c1e8f6a5b4c3d2e1f00"},
               {"Application-Name": "play", "Call-ID": CALL_ID,
                "Media-Name": f"prompt://{ACCOUNT_ID}/vm-enter_pass/en-us",
                "Terminators": ALL_KEYS, "Endless-Playback": False}]})


# ---- 3.5 call events, 3.6, 3.7 ------------------------------------------------------

def _event(name: str, msg_id: str = "1710259200123456", **fields: Any) -> Body:
    return _envelope(
        "call_event", name, app="freeswitch", version="1.0", node="gateway@sim", msg_id=msg_id,
        **{"Timestamp": TIMESTAMP, "Call-ID": CALL_ID, "Call-Direction": "inbound",
           "Caller-ID-Name": "web phone", "Caller-ID-Number": "356", "Channel-State": "EXECUTE",
           "Channel-Call-State": "ACTIVE", "Channel-Answer-State": "answered",
           "Custom-Channel-Vars": {"Account-ID": ACCOUNT_ID, "Fetch-ID": FETCH_ID, "CallFlow-ID": CALLFLOW_ID,
                                   "Application-Name": "callflow"},
           **fields})


@example("call_event.CHANNEL_CREATE")
def channel_create() -> Body:
    return _event("CHANNEL_CREATE", **{"Channel-Call-State": "RINGING", "Channel-Answer-State": "ringing",
                                       "From": f"356@{REALM}", "To": f"*97@{REALM}", "Request": f"*97@{REALM}"})


@example("call_event.CHANNEL_ANSWER")
def channel_answer() -> Body:
    return _event("CHANNEL_ANSWER")


@example("call_event.CHANNEL_EXECUTE")
def channel_execute() -> Body:
    return _event("CHANNEL_EXECUTE", **{"Application-Name": "play", "Raw-Application-Name": "playback",
                                        "Raw-Application-Data": "/tmp/vm-enter_pass.wav"})


@example("call_event.CHANNEL_EXECUTE_COMPLETE")
def channel_execute_complete() -> Body:  # bus.md 3.5
    return _event("CHANNEL_EXECUTE_COMPLETE",
                  **{"Application-Name": "noop", "Application-Response": "9f0e7a2c4b3d4c1e8f6a5b4c3d2e1f00",
                     "Raw-Application-Name": "noop"})


@example("call_event.DTMF")
def dtmf() -> Body:  # DTMF-Duration is a number (bus.md 7.7)
    return _event("DTMF", **{"DTMF-Digit": "1", "DTMF-Duration": 2000})


@example("call_event.RECORD_START")
def record_start() -> Body:
    path = "/tmp/5d41402abc4b2a76b9719d911017c592.mp3"
    return _event("RECORD_START", **{"Application-Name": "record", "Application-Response": path,
                                     "Recording": {"File-Path": path}})


@example("call_event.RECORD_STOP")
def record_stop() -> Body:  # bus.md 3.5
    path = "/tmp/5d41402abc4b2a76b9719d911017c592.mp3"
    return _event("RECORD_STOP", **{"Application-Name": "record", "Application-Response": path, "Terminator": "#",
                                    "Length": "5230", "Silence-Terminated": False,
                                    "Recording": {"File-Path": path, "File-MilliSeconds": 5230}})


@example("call_event.CHANNEL_DESTROY")
def channel_destroy() -> Body:
    return _event("CHANNEL_DESTROY", **{"Channel-State": "DOWN", "Channel-Call-State": "HANGUP",
                                        "Channel-Answer-State": "hangup", "Hangup-Cause": "NORMAL_CLEARING",
                                        "Hangup-Code": "sip:200", "Disposition": "SUCCESS",
                                        "Duration-Seconds": "42", "Billing-Seconds": "40", "Ringing-Seconds": "2",
                                        "Media-Recordings": []})


@example("error.dialplan")
def dialplan_error() -> Body:  # bus.md 3.6: Msg-ID is the failed command's, Request the command itself
    return _envelope(
        "error", "dialplan", app="ecallmgr", version="4.0.0", node="gateway@sim",
        msg_id="0b8d2f6e1c4a4e9f8a7b6c5d4e3f2a1b",
        **{"Call-ID": CALL_ID, "Error-Message": "DOWN: channel is gone", "Dialplan-Error": "DOWN",
           "Channel-State": "DOWN", "Channel-Call-State": "DOWN",
           "Custom-Channel-Vars": {"Account-ID": ACCOUNT_ID, "Fetch-ID": FETCH_ID},
           "Request": {"Application-Name": "play", "Call-ID": CALL_ID, "Msg-ID": "0b8d2f6e1c4a4e9f8a7b6c5d4e3f2a1b",
                       "Media-Name": f"prompt://{ACCOUNT_ID}/vm-goodbye/en-us"}})


@example("call_event.usurp_control")
def usurp_control() -> Body:  # bus.md 3.7, section 8 item 8
    return _envelope("call_event", "usurp_control", app="ecallmgr", version="4.0.0", node="gateway@sim",
                     msg_id="5e0d4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
                     **{"Call-ID": CALL_ID, "Fetch-ID": FETCH_ID, "Reason": "Route-Win", "Media-Node": "gateway@sim"})


# ---- 3.8 remote callflow actions ------------------------------------------------------

def serialized_call() -> Body:  # bus.md 3.8.1, 3.8.6
    return {"Call-ID": CALL_ID, "Account-ID": ACCOUNT_ID, "Account-DB": ACCOUNT_DB,
            "Control-Queue": GATEWAY_QUEUE, "Controller-Queue": CALLFLOW_QUEUE,
            "Request": f"*97@{REALM}", "Request-User": "*97", "Request-Realm": REALM,
            "From": f"356@{REALM}", "To": f"*97@{REALM}", "Language": "en-us",
            "Authorizing-ID": "d509114b66efabf32dfd78dc464b46dd", "Authorizing-Type": "device",
            "Owner-ID": "699ed7e3d583e2577ac017c575f87262", "Caller-ID-Number": "356", "Call-Bridged": False,
            "Custom-Channel-Vars": {"Account-ID": ACCOUNT_ID, "CallFlow-ID": CALLFLOW_ID},
            "Key-Value-Store": {"cf_flow_id": CALLFLOW_ID, "cf_flow_name": "*97", "cf_no_match": False,
                                "owner_id": "699ed7e3d583e2577ac017c575f87262", "remote-action": "voicemail",
                                "action-exit-keys": []}}


ACTION_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"


@example("callflow.action.execute")
def action_execute() -> Body:  # bus.md 3.8.1
    return _envelope("callflow", "action.execute", app="callflow", version="4.0.0", node="callflow_svc@pod-a",
                     msg_id=ACTION_ID, **{"Server-ID": CALLFLOW_QUEUE, "Call-ID": CALL_ID,
                                          "Data": {"action": "check"}, "Call": serialized_call()})


@example("callflow.action.accepted")
def action_accepted() -> Body:
    return _envelope("callflow", "action.accepted", app="voicemail", version="4.0.0", node="voicemail_svc@pod-b",
                     msg_id=ACTION_ID, **{"Call-ID": CALL_ID})


@example("callflow.action.result")
def action_result() -> Body:  # bus.md 3.8.3: continue
    return _envelope("callflow", "action.result", app="voicemail", version="4.0.0", node="voicemail_svc@pod-b",
                     msg_id=ACTION_ID, **{"Call-ID": CALL_ID, "Result": "g2QACGNvbnRpbnVl"})


@example("callflow.resume")
def resume() -> Body:  # bus.md 3.8.8
    return _envelope("callflow", "resume", app="callflow", version="4.0.0", node="callflow_svc@pod-a",
                     msg_id="7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e",
                     **{"Call": serialized_call(), "Flow": {"module": "voicemail", "data": {"action": "compose"},
                                                            "children": {}}})


# ---- 3.9 presence ----------------------------------------------------------------

@example("presence.mwi_update")
def mwi_update() -> Body:  # voicemail.md 7.1
    return _envelope("presence", "mwi_update", app="callflow", version="4.0.0", node="voicemail_svc@pod-b",
                     msg_id="2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c",
                     **{"To": f"3456@{REALM}", "Messages-New": 2, "Messages-Saved": 5,
                        "Extended-Presence-ID": "*983456", "Call-ID": "8c0b5d3f8a3c4b6f1e2d7a9b0c4e6f1a"})


@example("presence.mwi_unsolicited_update")
def mwi_unsolicited_update() -> Body:  # voicemail.md 7.2
    return _envelope("presence", "mwi_unsolicited_update", app="callflow", version="4.0.0",
                     node="voicemail_svc@pod-b", msg_id="3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d",
                     **{"To": f"user_356@{REALM}", "Messages-New": 3, "Messages-Saved": 7})


@example("presence.mwi_query")
def mwi_query() -> Body:
    return _envelope("presence", "mwi_query", app="kamailio", version="4.0.0", node="registrar@sim",
                     msg_id="4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e",
                     **{"Username": "3456", "Realm": REALM, "Call-ID": "mwi-subscribe-1"})


# ---- 3.10 sysconf (config.md 4) -----------------------------------------------------

@example("sysconf.get_req")
def sysconf_get_req() -> Body:  # config.md 4.3
    return _envelope("sysconf", "get_req", app="voicemail_svc", version="1.0.0", node="voicemail_svc@pod-b",
                     msg_id="6c1d0a", **{"Server-ID": "voicemail_svc@pod-b-rpc-1a2b", "Category": "callflow",
                                         "Key": ["voicemail", "max_message_count"], "Default": 100})


@example("sysconf.get_resp")
def sysconf_get_resp() -> Body:  # config.md 4.3
    return _envelope("sysconf", "get_resp", app="config_svc", version="1.0.0", node="config_svc@pod-c",
                     msg_id="6c1d0a", **{"Category": "callflow", "Key": ["voicemail", "max_message_count"],
                                         "Value": 100})


@example("sysconf.set_req")
def sysconf_set_req() -> Body:  # config.md 4.4
    return _envelope("sysconf", "set_req", app="kzvoice", version="1.0.0", node="kzvoice-cli@ops",
                     msg_id="7d2e1b", **{"Server-ID": "kzvoice-cli@ops-rpc-9c8d", "Category": "callflow",
                                         "Key": ["voicemail", "max_message_count"], "Value": 50,
                                         "Node-Specific": True})


@example("sysconf.set_resp")
def sysconf_set_resp() -> Body:  # config.md 4.4
    return _envelope("sysconf", "set_resp", app="config_svc", version="1.0.0", node="config_svc@pod-c",
                     msg_id="7d2e1b", **{"Category": "callflow", "Key": ["voicemail", "max_message_count"],
                                         "Value": 50, "Status": "success"})


@example("sysconf.flush_req")
def sysconf_flush_req() -> Body:  # config.md 4.5
    return _envelope("sysconf", "flush_req", app="kzvoice", version="1.0.0", node="kzvoice-cli@ops",
                     msg_id="8e3f2c", **{"Category": "callflow", "Key": "default_language"})


# ---- 3.11 configuration (config.md 4.6) ---------------------------------------------

def _doc_change(name: str, **fields: Any) -> Body:
    return _envelope("configuration", name, app="datamgr", version="4.0.0", node="config_svc@pod-c",
                     msg_id="9f4a3d2e1c0b9a8f7e6d5c4b3a2f1e0d", **{"Origin-Cache": "kazoo_data_cache", **fields})


def _doc(name: str, **fields: Any) -> Body:
    return _doc_change(name, **{"ID": "callflow", "Database": "system_config", "Type": "config",
                                "Rev": "3-8a1b2c3d4e5f", "Date-Created": 63877000000, "Date-Modified": TIMESTAMP,
                                "Is-Soft-Deleted": False, **fields})


@example("configuration.doc_created")
def doc_created() -> Body:
    return _doc("doc_created", **{"ID": "configs_callflow", "Database": ACCOUNT_DB, "Type": "account_config",
                                  "Account-ID": ACCOUNT_ID, "Rev": "1-0f9e8d7c6b5a"})


@example("configuration.doc_edited")
def doc_edited() -> Body:
    return _doc("doc_edited")


@example("configuration.doc_deleted")
def doc_deleted() -> Body:
    return _doc("doc_deleted", **{"ID": CALLFLOW_ID, "Database": ACCOUNT_DB, "Type": "callflow",
                                  "Account-ID": ACCOUNT_ID, "Is-Soft-Deleted": True})


def _db(name: str) -> Body:
    return _doc_change(name, **{"ID": ACCOUNT_DB, "Database": ACCOUNT_DB, "Type": "database"})


@example("configuration.db_created")
def db_created() -> Body:
    return _db("db_created")


@example("configuration.db_edited")
def db_edited() -> Body:
    return _db("db_edited")


@example("configuration.db_deleted")
def db_deleted() -> Body:
    return _db("db_deleted")


@example("configuration.db_views_updated")
def db_views_updated() -> Body:
    return _db("db_views_updated")


@example("configuration.doc_type_update")
def doc_type_update() -> Body:
    return _envelope("configuration", "doc_type_update", app="crossbar", version="4.0.0", node="admin@ops",
                     msg_id="0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
                     **{"Type": "callflow", "Action": "edited", "Account-ID": ACCOUNT_ID})


# ---- 3.12 switch ---------------------------------------------------------------------

@example("switch_event.command")
def switch_command() -> Body:  # bus.md 3.12, 5.3
    return _envelope("switch_event", "command", app="voicemail", version="4.0.0", node="voicemail_svc@pod-b",
                     msg_id="1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e",
                     **{"Server-ID": "voicemail_svc@pod-b-rpc-1a2b", "Command": "send_http",
                        "FreeSWITCH-Node": "gateway@sim",
                        "Args": {"File-Name": "/tmp/5d41402abc4b2a76b9719d911017c592.mp3",
                                 "Url": "http://voicemail.local:8080/store/t0k3n/5d41402abc4b2a76b9719d911017c592.mp3",
                                 "Http-Method": "put"}})


@example("switch_event.reply")
def switch_reply() -> Body:
    return _envelope("switch_event", "reply", app="ecallmgr", version="4.0.0", node="gateway@sim",
                     msg_id="1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e",
                     **{"Command": "send_http", "Result": "success", "FreeSWITCH-Node": "gateway@sim",
                        "Response": {"Status-Code": "201"}})


# ---- 3.13 notifications (voicemail.md 8) ----------------------------------------------

def _notification(name: str, **fields: Any) -> Body:
    return _envelope("notification", name, app="callflow", version="4.0.0", node="voicemail_svc@pod-b",
                     msg_id="2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f", **fields)


def _vm_message(**more: Any) -> dict[str, Any]:
    return {"Account-ID": ACCOUNT_ID, "Account-DB": ACCOUNT_DB, "From-User": "356", "From-Realm": REALM,
            "To-User": "3456", "To-Realm": REALM, "Voicemail-Box": "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
            "Voicemail-ID": "202603-6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f", "Caller-ID-Number": "356",
            "Caller-ID-Name": "web phone", "Call-ID": CALL_ID, **more}


@example("notification.voicemail_new")
def voicemail_new() -> Body:  # counts and timestamps are integers (voicemail.md 8.1, bus.md 7.7)
    return _notification("voicemail_new", **{"Server-ID": "voicemail_svc@pod-b-rpc-1a2b",
                                              **_vm_message(**{"Voicemail-Timestamp": TIMESTAMP,
                                                               "Voicemail-Length": 5230})})


@example("notification.voicemail_saved")
def voicemail_saved() -> Body:
    return _notification("voicemail_saved", **_vm_message(**{"Voicemail-Timestamp": TIMESTAMP,
                                                             "Voicemail-Length": 5230}))


@example("notification.voicemail_full")
def voicemail_full() -> Body:  # voicemail.md 8.3
    return _notification("voicemail_full", **{"Account-ID": ACCOUNT_ID, "Voicemail-Box": "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
                                              "Max-Message-Count": 100, "Message-Count": 100})


@example("notification.voicemail_deleted")
def voicemail_deleted() -> Body:  # voicemail.md 8.4: timestamp and length as strings
    return _notification("voicemail_deleted", **_vm_message(**{"Reason": "dtmf",
                                                               "Voicemail-Timestamp": str(TIMESTAMP),
                                                               "Voicemail-Length": "5230"}))


@example("notification.notify_update")
def notify_update() -> Body:  # bus.md section 8 item 9
    return _envelope("notification", "notify_update", app="teletype", version="4.0.0", node="notifier@sim",
                     msg_id="2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f", **{"Status": "completed"})


# ---- media (media.md 3) ------------------------------------------------------------------------

MEDIA_NAME = f"prompt://{ACCOUNT_ID}/vm-enter_pass/en-us"
MEDIA_MSG_ID = "5b1c0e9a7d3f2a44"


@example("media.media_req")
def media_req() -> Body:  # media.md 3, as ecallmgr builds it (2.2)
    return _envelope("media", "media_req", app="ecallmgr", version="5.0.0", node="ecallmgr@fs1",
                     msg_id=MEDIA_MSG_ID, **{"Server-ID": GATEWAY_QUEUE, "Call-ID": CALL_ID, "Media-Name": MEDIA_NAME,
                                             "Stream-Type": "new"})


@example("media.media_resp")
def media_resp() -> Body:  # media.md 3, 6.3
    return _envelope("media", "media_resp", app="voicemail", version="4.0.0", node="voicemail_svc@pod-b",
                     msg_id=MEDIA_MSG_ID, **{"Media-Name": MEDIA_NAME,
                                             "Stream-URL": "http://voicemail-0.voicemail:8081/media/eyJwIjoicGxheSJ9."
                                                           "c2lnbmF0dXJl/vm-enter_pass.wav"})


@example("media.media_error")
def media_error() -> Body:  # media.md 6.2
    return _envelope("media", "media_error", app="voicemail", version="4.0.0", node="voicemail_svc@pod-b",
                     msg_id=MEDIA_MSG_ID, **{"Media-Name": f"/{ACCOUNT_ID}/no-such-doc", "Error-Code": "not_found",
                                             "Error-Msg": "not_found"})
