"""config.md section 7, CFG-019 ... CFG-038: set_req, write procedure and change events."""

from __future__ import annotations

import asyncio
import json

import jsonschema

from services import exchanges as x
from services.store import layout
from testkit.shared import kazoo_schemas
from tests.integration.config.conftest import DROP, get_doc, put_doc, system_doc

SC = layout.SYSTEM_CONFIG_DB
ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
ACCOUNT_DB = layout.account_db(ACCOUNT)
ACCOUNT_DB_ENCODED = "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"


async def test_cfg_019_set_default_section(config_svc, probe, store):
    await system_doc(store, "callflow", default={"route_win_timeout": 3000})
    sent = await probe.send_raw(probe.envelope("set_req", Category="callflow", Key="dialog_subscribed_mwi_prefix",
                                               Value="*98"))
    reply = await probe.reply_to(sent)
    assert reply["Event-Name"] == "set_resp"
    assert (reply["Category"], reply["Key"], reply["Value"]) == ("callflow", "dialog_subscribed_mwi_prefix", "*98")
    assert reply["Msg-ID"] == sent["Msg-ID"] and reply["Status"] == "success"
    doc = await get_doc(store, SC, "callflow")
    assert doc["default"] == {"route_win_timeout": 3000, "dialog_subscribed_mwi_prefix": "*98"}
    await probe.event("doc_edited.system_config.config.callflow")


async def test_cfg_020_event_arrives_before_set_resp(config_svc, probe, store):
    await system_doc(store, "c20", default={"k": 1})
    sent = await probe.send_raw(probe.envelope("set_req", Category="c20", Key="k", Value=2))
    await probe.reply_to(sent)
    order = [(ex, key) for ex, key, body in probe.received
             if (ex == "configuration" and body.get("ID") == "c20") or body.get("Msg-ID") == sent["Msg-ID"]]
    assert order == [("configuration", "doc_edited.system_config.config.c20"), ("targeted", probe.queue)]


async def test_cfg_021_set_creates_the_document(config_svc, probe, store):
    before = layout.now_gregorian()
    assert (await probe.set("brandnew", "k", 1))["Status"] == "success"
    doc = await get_doc(store, SC, "brandnew")
    assert doc["_id"] == "brandnew" and doc["default"] == {"k": 1} and doc["pvt_type"] == "config"
    for field in ("pvt_created", "pvt_modified"):
        assert isinstance(doc[field], int) and before <= doc[field] <= layout.now_gregorian()
    assert (await probe.event("doc_created.system_config.config.brandnew"))["Event-Name"] == "doc_created"


async def test_cfg_022_node_specific_write(config_svc, probe, store):
    await system_doc(store, "c22", default={"k": 1})
    reply = await probe.set("c22", "k", 2, **{"Node-Specific": True, "Node": "svc@h1"})
    assert reply["Status"] == "success"
    doc = await get_doc(store, SC, "c22")
    assert doc["svc@h1"] == {"k": 2} and doc["default"] == {"k": 1}


async def test_cfg_023_node_specific_as_string(config_svc, probe, store):
    await system_doc(store, "c23", default={"k": 1})
    reply = await probe.set("c23", "k", 2, **{"Node-Specific": "true", "Node": "svc@h1"})
    assert reply["Status"] == "success"
    doc = await get_doc(store, SC, "c23")
    assert doc["svc@h1"] == {"k": 2} and doc["default"] == {"k": 1}


async def test_cfg_024_plain_set_targets_default_whatever_the_node(config_svc, probe, store):
    await system_doc(store, "c24", default={"k": 1}, **{"svc@h1": {"k": 2}})
    assert (await probe.set("c24", "k", 9, Node="svc@h1"))["Status"] == "success"
    doc = await get_doc(store, SC, "c24")
    assert doc["default"]["k"] == 9 and doc["svc@h1"]["k"] == 2


async def test_cfg_025_path_keeps_siblings(config_svc, probe, store):
    await system_doc(store, "c25", default={"voicemail": {"extension": "mp3"}})
    await probe.set("c25", ["voicemail", "max_message_count"], 50)
    doc = await get_doc(store, SC, "c25")
    assert doc["default"]["voicemail"] == {"extension": "mp3", "max_message_count": 50}


async def test_cfg_026_path_creates_intermediate_objects(config_svc, probe, store):
    await system_doc(store, "c26", default={})
    await probe.set("c26", ["voicemail", "max_pin_length"], 4)
    assert (await get_doc(store, SC, "c26"))["default"] == {"voicemail": {"max_pin_length": 4}}


async def test_cfg_027_null_deletes(config_svc, probe, store):
    await system_doc(store, "c27", default={"k": 1, "j": 2})
    reply = await probe.set("c27", "k", None)
    assert "Value" in reply and reply["Value"] is None and reply["Status"] == "success"
    assert (await get_doc(store, SC, "c27"))["default"] == {"j": 2}
    assert (await probe.get("c27", "k"))["Value"] == "undefined"


async def test_cfg_028_identical_write_is_a_no_op(config_svc, probe, store):
    saved = await system_doc(store, "c28", default={"k": 5})
    reply = await probe.set("c28", "k", 5)
    assert reply["Status"] == "success"
    await probe.quiet()
    assert (await get_doc(store, SC, "c28"))["_rev"] == saved["_rev"]
    assert probe.events() == []


async def test_cfg_029_json_types_are_kept(config_svc, probe, store):
    await system_doc(store, "c29", default={})
    values = {"n": 50, "b": True, "o": {"a": [1, 2]}, "s": "50"}
    for key, value in values.items():
        assert (await probe.set("c29", key, value))["Status"] == "success"
    stored = (await get_doc(store, SC, "c29"))["default"]
    assert stored == values
    assert type(stored["n"]) is int and stored["b"] is True and type(stored["s"]) is str


async def test_cfg_030_concurrent_writes_all_land(config_svc, probe, store):
    await system_doc(store, "c30", default={})
    sent = [probe.envelope("set_req", Category="c30", Key=f"k{i}", Value=i) for i in range(20)]
    await asyncio.gather(*(probe.send_raw(body) for body in sent))
    replies = [await probe.reply_to(body, timeout=10) for body in sent]
    assert [r["Status"] for r in replies] == ["success"] * 20
    assert (await get_doc(store, SC, "c30"))["default"] == {f"k{i}": i for i in range(20)}


async def test_cfg_031_set_without_value_is_dropped(config_svc, probe, store):
    saved = await system_doc(store, "c31", default={"k": 1})
    await probe.send_raw(probe.envelope("set_req", Category="c31", Key="k"))
    await probe.get("other31", "k")            # answered after the invalid one was consumed
    await probe.quiet()
    assert [r for r in probe.replies() if r["Category"] == "c31"] == []
    assert await get_doc(store, SC, "c31") == saved


async def test_cfg_032_locked_writes(start_config_svc, probe, store):
    await start_config_svc(locked=True)
    saved = await system_doc(store, "c32", default={"k": 0})
    reply = await probe.set("c32", "k", 1)
    assert reply["Status"] == "locked"
    await probe.quiet()
    assert await get_doc(store, SC, "c32") == saved
    assert probe.events() == []


async def test_cfg_033_node_specific_without_node_is_an_error(config_svc, probe, store):
    saved = await system_doc(store, "c33", default={"k": 0})
    reply = await probe.set("c33", "k", 1, **{"Node-Specific": True, "Node": DROP})
    assert reply["Status"] == "error" and reply["Error-Message"]
    assert await get_doc(store, SC, "c33") == saved


async def test_cfg_034_read_after_write(config_svc, probe, store):
    await system_doc(store, "c34", default={"k": 1})
    assert (await probe.set("c34", "k", 2, **{"Node-Specific": True, "Node": "svc@h1"}))["Status"] == "success"
    assert (await probe.get("c34", "k", Node="svc@h1"))["Value"] == 2
    assert (await probe.set("c34", "k", 3))["Status"] == "success"
    assert (await probe.get("c34", "k", Node="default"))["Value"] == 3


async def test_cfg_035_dotted_category_routing_key(config_svc, probe, store):
    await system_doc(store, "callflow.park", default={"k": 1})
    await probe.set("callflow.park", "k", 2)
    event = await probe.event("doc_edited.system_config.config.callflow%2Epark")
    assert event["ID"] == "callflow.park"


async def test_cfg_036_account_write(config_svc, probe, store):
    await store.create_db(ACCOUNT_DB)
    system_before = await system_doc(store, "callflow", default={"dialog_subscribed_mwi_prefix": "*98"})
    reply = await probe.set("callflow", "dialog_subscribed_mwi_prefix", "*97", **{"Account-ID": ACCOUNT})
    assert reply["Status"] == "success"
    doc = await get_doc(store, ACCOUNT_DB, "configs_callflow")
    assert doc["dialog_subscribed_mwi_prefix"] == "*97"
    assert doc["pvt_type"] == "account_config" and doc["pvt_account_id"] == ACCOUNT
    assert doc["pvt_account_db"] == ACCOUNT_DB_ENCODED
    assert await get_doc(store, SC, "callflow") == system_before
    event = await probe.event(f"doc_created.{ACCOUNT_DB_ENCODED}.account_config.configs_callflow")
    assert event["Account-ID"] == ACCOUNT and event["Database"] == ACCOUNT_DB_ENCODED


async def test_cfg_037_unknown_account_write_fails(config_svc, probe, store):
    reply = await probe.set("callflow", "k", 1, **{"Account-ID": ACCOUNT})
    assert reply["Status"] == "error" and ACCOUNT in reply["Error-Message"]
    assert not await store.db_exists(ACCOUNT_DB)
    assert await get_doc(store, SC, "callflow") is None
    await probe.quiet()
    assert probe.events() == []


async def test_cfg_038_event_payload(config_svc, probe, store):
    await system_doc(store, "callflow", default={"k": 1})
    await probe.set("callflow", "k", 2)
    event = await probe.event("doc_edited.system_config.config.callflow")
    stored = await get_doc(store, SC, "callflow")
    assert event["ID"] == "callflow" and event["Database"] == "system_config"
    for header in ("App-Name", "App-Version", "Msg-ID", "Node"):
        assert isinstance(event[header], str) and event[header]
    assert event["Event-Category"] == "configuration" and event["Event-Name"] == "doc_edited"
    assert event["Type"] == "config"
    assert event["Rev"] == stored["_rev"]
    assert event["Is-Soft-Deleted"] is False
    assert "Account-ID" not in event
    assert event["Date-Created"] == stored["pvt_created"] and event["Date-Modified"] == stored["pvt_modified"]
    kazoo = json.loads((kazoo_schemas() / "kapi.conf.doc_update.json").read_text())
    # config.md 4.7: KAZOO's schema types the dates as strings while its code sends integers;
    # check its required fields and names only
    jsonschema.validate(event, {"type": "object", "required": kazoo["required"],
                                "properties": {"Event-Name": kazoo["properties"]["Event-Name"],
                                               "Event-Category": kazoo["properties"]["Event-Category"]}})
