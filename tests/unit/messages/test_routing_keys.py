"""Routing keys the declarations build from message bodies (bus.md sections 1.4 and 3)."""

import pytest

from services import exchanges as x
from services.messages import catalogue as c
from tests.contract.examples import build

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"


def key(spec, body, dest=None):
    return spec.routing_key(body, dest)


# ---- route_req (bus.md 3.1) --------------------------------------------------------

def test_route_req_uses_top_level_account_id_first():
    body = build("route.req")
    body["Account-ID"] = "top.level"
    assert key(c.ROUTE_REQ, body) == "route.req.audio.top%2Elevel"


def test_route_req_falls_back_to_ccv_account_id():
    body = build("route.req")
    assert "Account-ID" not in body
    assert key(c.ROUTE_REQ, body) == f"route.req.audio.{ACCOUNT}"


def test_route_req_without_account_uses_realm_then_user_of_from_encoded():
    body = build("route.req")
    del body["Custom-Channel-Vars"]["Account-ID"]
    body["From"] = "user.356@acme.example.com"
    body["Resource-Type"] = "video"
    assert key(c.ROUTE_REQ, body) == "route.req.video.acme%2Eexample%2Ecom.user%2E356"


def test_route_req_splits_from_at_the_first_at_sign():
    body = build("route.req")
    del body["Custom-Channel-Vars"]
    body["From"] = "*97@a@b.c"
    assert key(c.ROUTE_REQ, body) == "route.req.audio.a%40b%2Ec.%2A97"


def test_route_req_needs_a_resource_type():
    body = build("route.req")
    del body["Resource-Type"]
    with pytest.raises(ValueError, match="Resource-Type"):
        key(c.ROUTE_REQ, body)


# ---- point-to-point --------------------------------------------------------------

@pytest.mark.parametrize("spec_key", ["route.resp", "route.win", "callflow.action.accepted", "callflow.action.result",
                                      "sysconf.get_resp", "sysconf.set_resp", "switch_event.reply",
                                      "notification.notify_update"])
def test_replies_go_to_targeted_under_the_destination(spec_key):
    spec = c.get(spec_key)
    assert spec.exchange is x.TARGETED and spec.targeted
    assert key(spec, build(spec_key), "callflow_route_5d1c") == "callflow_route_5d1c"
    with pytest.raises(ValueError):
        key(spec, build(spec_key), None)


@pytest.mark.parametrize("application", sorted(c.COMMANDS))
def test_commands_go_to_callctl_under_the_control_queue(application):
    spec = c.COMMANDS[application]
    assert spec.key == f"command.{application}"
    assert (spec.exchange, spec.category, spec.name) == (x.CALLCTL, "call", "command")
    assert spec.values["Application-Name"] == application
    assert key(spec, build(spec.key), "gw-ctl-7f3a") == "gw-ctl-7f3a"


def test_now_only_commands_fix_insert_at():
    for application in ("break", "playstop", "playseek"):
        assert c.COMMANDS[application].values["Insert-At"] == "now"
    assert "Insert-At" not in c.COMMANDS["play"].values


# ---- callevt (bus.md 3.5 - 3.7) ---------------------------------------------------

@pytest.mark.parametrize("name", sorted(c.CALL_EVENTS))
def test_call_events_key_on_event_name_and_encoded_call_id(name):
    spec = c.CALL_EVENTS[name]
    body = build(spec.key)
    body["Call-ID"] = "abc@1.2.3.4"
    assert spec.exchange is x.CALLEVT and spec.call_event
    assert key(spec, body) == f"call.{name}.abc%401%2E2%2E3%2E4"


def test_dialplan_error_and_usurp_control_keys():
    body = build("error.dialplan")
    body["Call-ID"] = "abc@1.2.3.4"
    assert key(c.DIALPLAN_ERROR, body) == "call.dialplan.abc%401%2E2%2E3%2E4"
    body = build("call_event.usurp_control")
    body["Call-ID"] = "x y"
    assert key(c.USURP_CONTROL, body) == "call.usurp_control.x+y"


def test_call_event_key_needs_a_call_id():
    body = build("call_event.DTMF")
    del body["Call-ID"]
    with pytest.raises(ValueError, match="Call-ID"):
        key(c.CALL_EVENTS["DTMF"], body)


# ---- kapps (bus.md 3.8) ------------------------------------------------------------

def test_action_execute_module_from_the_call_or_the_destination():
    body = build("callflow.action.execute")
    assert key(c.ACTION_EXECUTE, body) == "callflow.action.voicemail"
    assert key(c.ACTION_EXECUTE, body, "hangup") == "callflow.action.hangup"
    del body["Call"]["Key-Value-Store"]["remote-action"]
    with pytest.raises(ValueError):
        key(c.ACTION_EXECUTE, body)


def test_mandatory_flag_only_on_action_execute_and_doc_type_update():
    assert {s.key for s in c.all_specs() if s.mandatory} == {"callflow.action.execute",
                                                             "configuration.doc_type_update"}


def test_resume_key():
    assert key(c.RESUME, build("callflow.resume")) == "callflow.resume"


# ---- presence (bus.md 3.9) ------------------------------------------------------------

def test_mwi_keys_encode_realm_and_user():
    assert key(c.MWI_UPDATE, build("presence.mwi_update")) == "mwi_updates.acme%2Eexample%2Ecom.3456"
    assert key(c.MWI_UNSOLICITED_UPDATE, build("presence.mwi_unsolicited_update")) == \
        "mwi_unsolicited_updates.acme%2Eexample%2Ecom"
    assert key(c.MWI_QUERY, build("presence.mwi_query")) == "mwi_queries.acme%2Eexample%2Ecom"


# ---- sysconf, configuration, switch, notifications ----------------------------------------

def test_sysconf_keys():
    assert key(c.SYSCONF_GET_REQ, build("sysconf.get_req")) == "sysconf.get"
    assert key(c.SYSCONF_SET_REQ, build("sysconf.set_req")) == "sysconf.set"
    assert key(c.SYSCONF_FLUSH_REQ, build("sysconf.flush_req")) == "sysconf.flush"


def test_doc_change_keys_encode_the_id_but_not_the_database():
    body = build("configuration.doc_edited")
    body["ID"] = "callflow.park"
    assert key(c.DOC_CHANGES["doc_edited"], body) == "doc_edited.system_config.config.callflow%2Epark"
    assert key(c.DOC_CHANGES["doc_created"], build("configuration.doc_created")) == \
        "doc_created.account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502.account_config.configs_callflow"


def test_soft_delete_keeps_the_writes_routing_action():
    body = build("configuration.doc_deleted")
    assert body["Is-Soft-Deleted"] is True
    assert key(c.DOC_CHANGES["doc_deleted"], body).startswith("doc_edited.")
    body["Is-Soft-Deleted"] = False
    assert key(c.DOC_CHANGES["doc_deleted"], body).startswith("doc_deleted.")


def test_db_change_and_doc_type_update_keys():
    db = "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"
    assert key(c.DOC_CHANGES["db_created"], build("configuration.db_created")) == f"db_created.{db}.database.{db}"
    assert key(c.DOC_CHANGES["db_views_updated"], build("configuration.db_views_updated")) == \
        f"db_views_updated.{db}.database.{db}"
    assert key(c.DOC_TYPE_UPDATE, build("configuration.doc_type_update")) == "configuration.doc_type_update.callflow"


def test_switch_command_key_names_the_encoded_media_node_or_a_wildcard():
    body = build("switch_event.command")
    assert key(c.SWITCH_COMMAND, body) == "switch.command.gateway%40sim"
    del body["FreeSWITCH-Node"]
    assert key(c.SWITCH_COMMAND, body) == "switch.command.*"


@pytest.mark.parametrize("what", ["new", "saved", "full", "deleted"])
def test_voicemail_notification_keys(what):
    spec = c.get(f"notification.voicemail_{what}")
    assert spec.exchange is x.NOTIFICATIONS
    assert key(spec, build(spec.key)) == f"notifications.voicemail.{what}"


def test_lookup_by_selector():
    assert c.lookup("call", "command", "play") is c.COMMANDS["play"]
    assert c.lookup("call", "command", "bogus") is None
    assert c.lookup("call_event", "DTMF") is c.CALL_EVENTS["DTMF"]
    assert c.lookup("configuration", "doc_deleted") is c.DOC_CHANGES["doc_deleted"]
