"""Route requests: which are taken, the route_resp, number normalisation (callflow.md 2.1-2.3, 3.1).

Calls are placed by the gateway simulator; the route_resp is the one the gateway received."""

from __future__ import annotations

import pytest

from services.messages.spec import DEFAULT_HEADERS
from testkit.shared import kazoo_api_validators, reference
from tests.integration.callflow.harness import ACCOUNT, REALM, callflow_doc, endpoint, named, put

pytestmark = pytest.mark.integration


async def test_cf_001_route_resp_for_an_exact_number(cf):
    doc = await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    call = await cf.dial("*97")
    resp = await cf.route_resp(call)
    req = await cf.route_req(call)
    assert resp.exchange == "targeted" and resp.routing_key == req["Server-ID"] == resp.queue
    assert resp["Event-Category"] == "dialplan" and resp["Event-Name"] == "route_resp"
    assert resp["Method"] == "park" and resp["Routes"] == []
    assert resp["Msg-ID"] == req["Msg-ID"] == call.fetch_id and resp["Call-ID"] == call.call_id
    assert resp["Account-ID"] == ACCOUNT
    assert named(resp) == doc["_id"]
    assert resp["Server-ID"]
    assert await call.wait_routed()                  # and the gateway took it: park, route_win


def _kazoo_validator(name: str):
    """Draft 4 validator of one of KAZOO's schemas, and the schema."""
    reference("kazoo-schemas", name)                  # fails, naming the file, when it is not there
    validator = kazoo_api_validators()[name]
    return validator, validator.schema


async def test_cf_002_route_resp_passes_kazoo_schema_and_default_headers(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    resp = await cf.route_resp(await cf.dial("*97"))
    validator, schema = _kazoo_validator("kapi.route.resp.json")
    errors = [e.message for e in validator.iter_errors(resp.body)]
    assert errors == []
    for header in ("App-Name", "App-Version", "Event-Category", "Event-Name", "Msg-ID"):
        assert isinstance(resp[header], str) and resp[header]
    assert set(DEFAULT_HEADERS) <= set(resp.body)
    assert resp["Method"] in schema["properties"]["Method"]["enum"]


async def test_cf_003_pre_park_none_without_inception(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    resp = await cf.route_resp(await cf.dial("*97"))
    assert resp["Pre-Park"] == "none"


async def test_cf_004_pre_park_ring_ready_with_inception(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    call = await cf.dial("*97", endpoint=endpoint(extra_ccvs={"Inception": "offnet"}))
    assert (await cf.route_resp(call))["Pre-Park"] == "ring_ready"
    assert await call.wait_routed()
    assert any("ring_ready" in text for text in call.transcript.texts("route"))   # the gateway rang


async def test_cf_005_ring_ready_offnet_false_in_config(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.store.put("system_config", {"_id": "callflow", "pvt_type": "config",
                                         "default": {"ring_ready_offnet": False}})
    await cf.start()
    call = await cf.dial("*97", endpoint=endpoint(extra_ccvs={"Inception": "offnet"}))
    assert (await cf.route_resp(call))["Pre-Park"] == "none"


async def test_cf_006_ringback_from_doc_else_from_request(cf):
    await put(cf.store, callflow_doc(numbers=["2100"], ringback={"early": "e1", "transfer": "t1"}))
    await put(cf.store, callflow_doc(numbers=["2101"]))
    await cf.start()
    resp = await cf.route_resp(await cf.dial("2100"))
    assert resp["Ringback-Media"] == "e1" and resp["Transfer-Media"] == "t1"
    # raw: the simulator's route_req carries no Ringback-Media (a real gateway may), so this request
    # is the simulator's own body plus that one field, published by the test
    await cf.open_gq()
    req = cf.raw_route_req("2101", **{"Ringback-Media": "r0"})
    await cf.publish_route_req(req)
    resp = await cf.raw_route_resp(req)
    assert resp["Ringback-Media"] == "r0"
    assert "Transfer-Media" not in resp.body


async def test_cf_007_from_realm_and_context(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    # raw: the simulator's route_req carries no Context, so the test adds it to the simulator's body
    await cf.open_gq()
    req = cf.raw_route_req("*97", Context="ctx1")
    await cf.publish_route_req(req)
    resp = await cf.raw_route_resp(req)
    assert resp["From-Realm"] == REALM and resp["Context"] == "ctx1"


async def test_cf_008_nanp_numbers_normalised_to_e164(cf):
    doc = await put(cf.store, callflow_doc(numbers=["+14158867900"]))
    await cf.start()
    for dialled in ("4158867900", "14158867900", "+14158867900"):
        assert named(await cf.route_resp(await cf.dial(dialled))) == doc["_id"], dialled


async def test_cf_009_international_prefixes_normalised(cf):
    doc = await put(cf.store, callflow_doc(numbers=["+447911123456"]))
    await cf.start()
    for dialled in ("011447911123456", "00447911123456"):
        assert named(await cf.route_resp(await cf.dial(dialled))) == doc["_id"], dialled


async def test_cf_010_short_extension(cf):
    doc = await put(cf.store, callflow_doc(numbers=["2000"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("2000"))) == doc["_id"]
