"""Route requests: which are taken, the route_resp, number normalisation (callflow.md 2.1-2.3, 3.1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from services.messages.spec import DEFAULT_HEADERS
from tests.integration.callflow.harness import ACCOUNT, REALM, callflow_doc, put

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


async def test_cf_001_route_resp_for_an_exact_number(cf, store):
    doc = await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    req = await gw.route_req("*97")
    resp = await gw.route_resp(req)
    assert resp.exchange == "targeted" and resp.routing_key == gw.gq.name
    assert resp["Event-Category"] == "dialplan" and resp["Event-Name"] == "route_resp"
    assert resp["Method"] == "park" and resp["Routes"] == []
    assert resp["Msg-ID"] == req["Msg-ID"] and resp["Call-ID"] == req["Call-ID"]
    assert resp["Account-ID"] == ACCOUNT
    assert resp["Custom-Channel-Vars"]["CallFlow-ID"] == doc["_id"]
    assert resp["Server-ID"]


def _kazoo_validator(name: str):
    """Draft 4 validator of one of KAZOO's schemas (they refer to each other by bare name)."""
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    folder = Path(os.environ.get("KZ_KAZOO_SCHEMAS") or REPO / ".." / "shared" / "kazoo-schemas")
    if not (folder / name).is_file():
        pytest.fail(f"KAZOO's {name} not found in {folder} (set KZ_KAZOO_SCHEMAS)")
    documents = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("kapi.*.json")}
    registry = Registry().with_resources(
        (stem, Resource.from_contents(doc, default_specification=DRAFT4)) for stem, doc in documents.items())
    schema = documents[name[:-len(".json")]]
    return Draft4Validator(schema, registry=registry), schema


async def test_cf_002_route_resp_passes_kazoo_schema_and_default_headers(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    resp = await gw.route_resp(await gw.route_req("*97"))
    validator, schema = _kazoo_validator("kapi.route.resp.json")
    errors = [e.message for e in validator.iter_errors(resp.body)]
    assert errors == []
    for header in ("App-Name", "App-Version", "Event-Category", "Event-Name", "Msg-ID"):
        assert isinstance(resp[header], str) and resp[header]
    assert set(DEFAULT_HEADERS) <= set(resp.body)
    assert resp["Method"] in schema["properties"]["Method"]["enum"]


async def test_cf_003_pre_park_none_without_inception(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    resp = await gw.route_resp(await gw.route_req("*97"))
    assert resp["Pre-Park"] == "none"


async def test_cf_004_pre_park_ring_ready_with_inception(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    resp = await gw.route_resp(await gw.route_req("*97", ccvs={"Inception": "offnet"}))
    assert resp["Pre-Park"] == "ring_ready"


async def test_cf_005_ring_ready_offnet_false_in_config(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.store.put("system_config", {"_id": "callflow", "pvt_type": "config",
                                         "default": {"ring_ready_offnet": False}})
    gw = await cf.start()
    resp = await gw.route_resp(await gw.route_req("*97", ccvs={"Inception": "offnet"}))
    assert resp["Pre-Park"] == "none"


async def test_cf_006_ringback_from_doc_else_from_request(cf):
    await put(cf.store, callflow_doc(numbers=["2100"], ringback={"early": "e1", "transfer": "t1"}))
    await put(cf.store, callflow_doc(numbers=["2101"]))
    gw = await cf.start()
    resp = await gw.route_resp(await gw.route_req("2100", **{"Ringback-Media": "r0"}))
    assert resp["Ringback-Media"] == "e1" and resp["Transfer-Media"] == "t1"
    resp = await gw.route_resp(await gw.route_req("2101", **{"Ringback-Media": "r0"}))
    assert resp["Ringback-Media"] == "r0"
    assert "Transfer-Media" not in resp.body


async def test_cf_007_from_realm_and_context(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    resp = await gw.route_resp(await gw.route_req("*97", Context="ctx1"))
    assert resp["From-Realm"] == REALM and resp["Context"] == "ctx1"


async def test_cf_008_nanp_numbers_normalised_to_e164(cf):
    doc = await put(cf.store, callflow_doc(numbers=["+14158867900"]))
    gw = await cf.start()
    for dialled in ("4158867900", "14158867900", "+14158867900"):
        resp = await gw.route_resp(await gw.route_req(dialled))
        assert resp["Custom-Channel-Vars"]["CallFlow-ID"] == doc["_id"], dialled


async def test_cf_009_international_prefixes_normalised(cf):
    doc = await put(cf.store, callflow_doc(numbers=["+447911123456"]))
    gw = await cf.start()
    for dialled in ("011447911123456", "00447911123456"):
        resp = await gw.route_resp(await gw.route_req(dialled))
        assert resp["Custom-Channel-Vars"]["CallFlow-ID"] == doc["_id"], dialled


async def test_cf_010_short_extension(cf):
    doc = await put(cf.store, callflow_doc(numbers=["2000"]))
    gw = await cf.start()
    resp = await gw.route_resp(await gw.route_req("2000"))
    assert resp["Custom-Channel-Vars"]["CallFlow-ID"] == doc["_id"]
