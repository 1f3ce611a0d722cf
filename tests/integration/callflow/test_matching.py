"""Number and pattern lookup, no_match and who may use it, which requests are ignored
(callflow.md 2.1-2.6).

Calls are placed by the gateway simulator; "ignores" is the gateway's own verdict (``Env.ignored``):
no route_resp in its route timeout, a 604 rejection, then a probe call that is answered."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.callflow.harness import (ACCOUNT, ACCOUNT_DB, REALM, callflow_doc, endpoint, named,
                                                put)

pytestmark = pytest.mark.integration


async def test_cf_011_stored_numbers_are_not_normalised_at_read_time(cf):
    await put(cf.store, callflow_doc(numbers=["4158867900"]))
    await cf.start()
    await cf.ignored(await cf.dial("4158867900", ignored=True))


async def test_cf_012_star_numbers_are_not_normalised(cf):
    doc = await put(cf.store, callflow_doc(numbers=["*4158867900"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("*4158867900"))) == doc["_id"]


async def test_cf_013_account_e164_converters(cf):
    await cf.store.put(ACCOUNT_DB, {"_id": "configs_number_manager", "pvt_type": "account_config",
                                    "e164_converters": {r"^(\d{4})$": {"prefix": "+4930"}}})
    doc = await put(cf.store, callflow_doc(numbers=["+49302000"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("2000"))) == doc["_id"]


async def test_cf_014_account_dial_plan(cf):
    account = await cf.store.get(ACCOUNT_DB, ACCOUNT)
    await cf.store.put(ACCOUNT_DB, {**account, "dial_plan": {r"^0(\d{9,})$": {"prefix": "+49"}}})
    doc = await put(cf.store, callflow_doc(numbers=["+49301234567"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("0301234567"))) == doc["_id"]


async def test_cf_015_exact_number_beats_pattern(cf):
    exact = await put(cf.store, callflow_doc(numbers=["2001"]))
    await put(cf.store, callflow_doc(patterns=[r"^(2\d{3})$"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("2001"))) == exact["_id"]


async def test_cf_016_pattern_match(cf):
    pattern = await put(cf.store, callflow_doc(patterns=[r"^(2\d{3})$"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("2002"))) == pattern["_id"]


async def test_cf_017_longest_capture_wins(cf):
    await put(cf.store, callflow_doc(patterns=[r"^2(\d{3})$"]))
    p2 = await put(cf.store, callflow_doc(patterns=[r"^(2\d{3})$"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("2001"))) == p2["_id"]


async def test_cf_018_empty_capture_scores_zero(cf):
    await put(cf.store, callflow_doc(patterns=[r"^\*98(\d*)$"]))
    p2 = await put(cf.store, callflow_doc(patterns=[r"^\*98\d*$"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("*98"))) == p2["_id"]


async def test_cf_019_tie_goes_to_the_pattern_sorting_last(cf):
    await put(cf.store, callflow_doc(patterns=[r"^([0-9]{3}4)$"], doc_id="f" * 32))
    p2 = await put(cf.store, callflow_doc(patterns=[r"^([0-9]{4})$"], doc_id="0" * 32))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("1234"))) == p2["_id"]


async def test_cf_020_unanchored_pattern(cf):
    doc = await put(cf.store, callflow_doc(patterns=["55"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("1553"))) == doc["_id"]


async def test_cf_021_invalid_pattern_does_not_break_the_account(cf, caplog):
    bad = await put(cf.store, callflow_doc(patterns=["[invalid"]))
    good = await put(cf.store, callflow_doc(patterns=[r"^(3\d{3})$"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("3001"))) == good["_id"]
    assert any(bad["_id"] in r.getMessage() and "[invalid" in r.getMessage() for r in caplog.records)


async def test_cf_022_duplicate_number_first_id_wins(cf):
    await put(cf.store, callflow_doc(numbers=["2500"], doc_id="b" * 32))
    await put(cf.store, callflow_doc(numbers=["2500"], doc_id="a" * 32))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("2500"))) == "a" * 32


async def test_cf_023_deleted_callflow_is_not_used(cf):
    await put(cf.store, callflow_doc(numbers=["2600"], pvt_deleted=True))
    await cf.start()
    await cf.ignored(await cf.dial("2600", ignored=True))


async def test_cf_024_numbers_of_other_document_types_are_not_used(cf):
    await cf.store.put(ACCOUNT_DB, {"_id": "e" * 32, "pvt_type": "device", "numbers": ["2700"]})
    await cf.start()
    await cf.ignored(await cf.dial("2700", ignored=True))


async def _only_no_match(cf):
    return await put(cf.store, callflow_doc(numbers=["no_match"]))


async def test_cf_025_no_match_for_a_device(cf):
    n = await _only_no_match(cf)
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("5551234"))) == n["_id"]


async def test_cf_026_no_match_refused_to_a_resource(cf):
    await _only_no_match(cf)
    await cf.start()
    await cf.ignored(await cf.dial("5551234", endpoint=endpoint(authorizing_type="resource"), ignored=True))


async def test_cf_027_no_match_refused_without_authorizing_type(cf):
    await _only_no_match(cf)
    await cf.start()
    anonymous = endpoint(device_id=None)          # no Authorizing-ID, no Authorizing-Type
    await cf.ignored(await cf.dial("5551234", endpoint=anonymous, ignored=True))
    assert "Authorizing-Type" not in (await cf.requests.first())["Custom-Channel-Vars"]


async def test_cf_028_no_match_only_for_digit_numbers(cf):
    await _only_no_match(cf)
    await cf.start()
    await cf.ignored(await cf.dial("*55", ignored=True))


async def test_cf_029_no_match_for_e164_number(cf):
    n = await _only_no_match(cf)
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("+442071234567"))) == n["_id"]


async def test_cf_030_no_match_callflow_found_by_number_is_still_no_match(cf):
    doc = await put(cf.store, callflow_doc(numbers=["3000", "no_match"]))
    await cf.start()
    resource = await cf.dial("3000", endpoint=endpoint(authorizing_type="resource"), ignored=True)
    device = await cf.dial("3000")
    assert named(await cf.route_resp(device)) == doc["_id"]
    await cf.ignored(resource, probe=False)       # the device's call was the probe


async def test_cf_031_known_referrer_unlocks_no_match(cf):
    n = await _only_no_match(cf)
    await cf.start()
    referred = endpoint(authorizing_type="resource", extra_ccvs={"Referred-By": f"<sip:user_356@{REALM}>"})
    assert named(await cf.route_resp(await cf.dial("5551234", endpoint=referred))) == n["_id"]


async def test_cf_032_realm_keyed_requests_are_not_taken(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    # a caller the gateway knows no account for: no CCV Account-ID, so the gateway keys the
    # route_req by realm and user (bus.md 3.1)
    unknown = endpoint(username="356", extra_ccvs={"Account-ID": None})
    call = await cf.dial("*97", endpoint=unknown, ignored=True)
    assert (await cf.requests.first()).routing_key == "route.req.audio.acme%2Eexample%2Ecom.356"
    await cf.ignored(call)


async def test_cf_033_top_level_account_id_alone_is_not_enough(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    # raw: a real gateway never puts Account-ID at the top level of a route_req
    await cf.open_gq()
    req = cf.raw_route_req("*97", caller=endpoint(extra_ccvs={"Account-ID": None}), **{"Account-ID": ACCOUNT})
    await cf.publish_route_req(req)
    await cf.raw_ignored(req)


async def test_cf_034_sms_ignored_video_routed(cf):
    doc = await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    # raw: the simulator places audio calls only; these are its route_req with another Resource-Type
    await cf.open_gq()
    sms = cf.raw_route_req("*97", **{"Resource-Type": "sms"})
    video = cf.raw_route_req("*97", **{"Resource-Type": "video"})
    await cf.publish_route_req(sms, key=f"route.req.sms.{ACCOUNT}")
    await cf.publish_route_req(video, key=f"route.req.video.{ACCOUNT}")
    assert named(await cf.raw_route_resp(video)) == doc["_id"]
    await cf.raw_ignored(sms)


async def test_cf_035_unknown_authorizing_type_ignored(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    await cf.ignored(await cf.dial("*97", endpoint=endpoint(authorizing_type="mystery"), ignored=True))


async def test_cf_036_invalid_route_req_ignored(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    # raw: malformed route_reqs, which no gateway sends
    await cf.open_gq()
    no_app = cf.raw_route_req("*97", **{"App-Name": None})
    wrong_name = cf.raw_route_req("*97", **{"Event-Name": "route_request"})
    await cf.publish_route_req(no_app)
    await cf.publish_route_req(wrong_name)
    await cf.raw_ignored(no_app, wrong_name)
    # the same request, valid, is answered: the two above failed only for their defect
    valid = cf.raw_route_req("*97")
    await cf.publish_route_req(valid)
    assert await cf.raw_route_resp(valid)


async def test_cf_037_request_without_user_ignored(cf):
    await put(cf.store, callflow_doc(numbers=["2000"]))
    await cf.start()
    call = await cf.dial("", ignored=True)        # Request "@acme.example.com"
    assert (await cf.route_req(call))["Request"] == f"@{REALM}"
    await cf.ignored(call)


async def test_cf_038_sys_info_waits_and_skips_reconcilable_numbers(cf):
    await put(cf.store, callflow_doc(numbers=["2000"]))
    await put(cf.store, callflow_doc(numbers=["+14158867900"]))
    await cf.start()
    sys_info = endpoint(authorizing_type="sys_info")
    started = time.monotonic()
    local, reconcilable = await asyncio.gather(cf.dial("2000", endpoint=sys_info),
                                               cf.dial("4158867900", endpoint=sys_info, ignored=True))
    resp = await cf.route_resp(local)
    assert resp.at - started >= 0.5
    assert resp["Msg-ID"] == local.fetch_id
    await cf.ignored(reconcilable, probe=False)   # the local call was the probe
