"""config.md section 7, CFG-001 ... CFG-018: get_req on the real broker."""

from __future__ import annotations

import pytest

from services import exchanges as x
from services.store import layout
from tests.integration.config.conftest import DROP, get_doc, put_doc, system_doc

SC = layout.SYSTEM_CONFIG_DB


async def test_cfg_001_get_req_answered_on_targeted(config_svc, probe, store):
    await system_doc(store, "callflow", default={"route_win_timeout": 3000})
    sent = await probe.send_raw(probe.envelope("get_req", Category="callflow", Key="route_win_timeout",
                                               Node="default"))
    exchange, routing_key, reply = await probe.wait_for(
        lambda i: i[0] == x.TARGETED.name and i[2].get("Msg-ID") == sent["Msg-ID"])
    assert (exchange, routing_key) == ("targeted", probe.queue)
    assert reply["Event-Category"] == "sysconf" and reply["Event-Name"] == "get_resp"
    assert reply["Value"] == 3000
    assert reply["Msg-ID"] == sent["Msg-ID"]
    assert reply["Category"] == "callflow" and reply["Key"] == "route_win_timeout"


async def test_cfg_002_node_section_first(config_svc, probe, store):
    await system_doc(store, "c2", default={"k": 1}, **{"svc@h1": {"k": 2}})
    assert (await probe.get("c2", "k", Node="svc@h1"))["Value"] == 2
    assert (await probe.get("c2", "k", Node="other@h2"))["Value"] == 1


async def test_cfg_003_zone_section_of_the_serving_node(config_svc, probe, store):
    await system_doc(store, "c3", default={"k": 1}, local={"k": 3})
    assert (await probe.get("c3", "k", Node="x@y"))["Value"] == 3
    assert (await probe.get("c3", "k", Node="default"))["Value"] == 1
    assert (await probe.get("c3", "k", Node=DROP))["Value"] == 1


async def test_cfg_004_node_value_masks_default_change(config_svc, probe, store):
    await system_doc(store, "c4", default={"k": 1}, **{"svc@h1": {"k": 2}})
    assert (await probe.set("c4", "k", 5))["Status"] == "success"
    assert (await get_doc(store, SC, "c4"))["default"]["k"] == 5
    assert (await probe.get("c4", "k", Node="svc@h1"))["Value"] == 2


async def test_cfg_005_default_written_back_when_missing(config_svc, probe, store):
    await system_doc(store, "c5", default={"other": 1})
    reply = await probe.get("c5", "k", Default=42)
    assert reply["Value"] == 42
    doc = await get_doc(store, SC, "c5")
    assert doc["default"]["k"] == 42 and isinstance(doc["default"]["k"], int)
    event = await probe.event("doc_edited.system_config.config.c5")
    assert event["ID"] == "c5" and event["Database"] == "system_config"


async def test_cfg_006_missing_doc_created_by_write_back(config_svc, probe, store):
    assert await get_doc(store, SC, "newcat") is None
    reply = await probe.get("newcat", "k", Default="x")
    assert reply["Value"] == "x"
    doc = await get_doc(store, SC, "newcat")
    assert doc["default"] == {"k": "x"} and doc["pvt_type"] == "config"
    event = await probe.event("doc_created.system_config.config.newcat")
    assert event["Event-Name"] == "doc_created"


async def test_cfg_007_missing_without_default_is_undefined(config_svc, probe, store):
    saved = await system_doc(store, "c7", default={"other": 1})
    reply = await probe.get("c7", "k")
    assert reply["Value"] == "undefined"
    await probe.quiet()
    assert (await get_doc(store, SC, "c7"))["_rev"] == saved["_rev"]
    assert probe.events() == []


async def test_cfg_008_stored_value_beats_default(config_svc, probe, store):
    saved = await system_doc(store, "c8", default={"k": 7})
    assert (await probe.get("c8", "k", Default=9))["Value"] == 7
    await probe.quiet()
    assert (await get_doc(store, SC, "c8"))["_rev"] == saved["_rev"]
    assert probe.events() == []


async def test_cfg_009_first_default_wins(config_svc, probe, store):
    await system_doc(store, "c9", default={})
    assert (await probe.get("c9", "k", Default=100))["Value"] == 100
    assert (await probe.get("c9", "k", Default=50))["Value"] == 100
    assert (await get_doc(store, SC, "c9"))["default"]["k"] == 100


async def test_cfg_010_array_key_is_a_path(config_svc, probe, store):
    await system_doc(store, "c10", default={"voicemail": {"max_message_count": 100}})
    reply = await probe.get("c10", ["voicemail", "max_message_count"])
    assert reply["Value"] == 100
    assert reply["Key"] == ["voicemail", "max_message_count"]


async def test_cfg_011_string_key_is_literal(config_svc, probe, store):
    await system_doc(store, "c11", default={"voicemail": {"max_message_count": 100}})
    reply = await probe.get("c11", "voicemail.max_message_count", Default=5)
    assert reply["Value"] == 5
    doc = await get_doc(store, SC, "c11")
    assert doc["default"]["voicemail.max_message_count"] == 5
    assert doc["default"]["voicemail"] == {"max_message_count": 100}


async def test_cfg_012_empty_list_is_undefined(config_svc, probe, store):
    await system_doc(store, "c12", default={"k": []})
    assert (await probe.get("c12", "k"))["Value"] == "undefined"


async def test_cfg_013_empty_string_is_answered(config_svc, probe, store):
    await system_doc(store, "c13", default={"k": ""})
    reply = await probe.get("c13", "k")
    assert "Value" in reply and reply["Value"] == ""


async def test_cfg_014_false_is_a_value(config_svc, probe, store):
    saved = await system_doc(store, "c14", default={"k": False})
    assert (await probe.get("c14", "k", Default=True))["Value"] is False
    await probe.quiet()
    assert (await get_doc(store, SC, "c14"))["_rev"] == saved["_rev"]
    assert probe.events() == []


async def test_cfg_015_no_server_id_no_reply_but_write_back(config_svc, probe, store):
    await system_doc(store, "c15", default={})
    await probe.send_raw(probe.envelope("get_req", Category="c15", Key="k", Default=1, **{"Server-ID": DROP}))
    await probe.event("doc_edited.system_config.config.c15")
    assert (await get_doc(store, SC, "c15"))["default"]["k"] == 1
    await probe.quiet()
    assert probe.replies() == []


@pytest.mark.parametrize("broken", [
    {"Key": DROP},
    {"Msg-ID": DROP},
    {"Event-Name": "get_request"},
    {"Category": 7},
])
async def test_cfg_016_invalid_get_req_is_dropped(config_svc, probe, store, broken):
    saved = await system_doc(store, "c16", default={})
    body = probe.envelope("get_req", Category="c16", Key="k", Default=1)
    body.update(broken)
    await probe.send_raw({k: v for k, v in body.items() if v is not DROP}, routing_key=x.SYSCONF_GET_KEY)
    # a valid request sent afterwards is answered, so the broken one has been consumed by then
    await probe.get("other16", "k")
    await probe.quiet()
    assert [r for r in probe.replies() if r.get("Category") != "other16"] == []
    assert await get_doc(store, SC, "c16") == saved


async def test_cfg_017_reads_are_never_cached(config_svc, probe, store):
    await system_doc(store, "c17", default={"k": 1})
    assert (await probe.get("c17", "k"))["Value"] == 1
    await system_doc(store, "c17", default={"k": 2})          # direct edit, no event
    assert (await probe.get("c17", "k"))["Value"] == 2


async def test_cfg_018_locked_write_back_skipped(start_config_svc, probe, store):
    await start_config_svc(locked=True)
    saved = await system_doc(store, "c18", default={})
    assert (await probe.get("c18", "k", Default=3))["Value"] == 3
    await probe.quiet()
    assert await get_doc(store, SC, "c18") == saved
    assert probe.events() == []
