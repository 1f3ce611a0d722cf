"""Number and pattern lookup, no_match and who may use it, which requests are ignored
(callflow.md 2.1-2.6)."""

from __future__ import annotations

import time

import pytest

from services.bus.exchanges import CALLMGR
from tests.integration.callflow.harness import ACCOUNT, ACCOUNT_DB, REALM, callflow_doc, put

pytestmark = pytest.mark.integration


def named(resp) -> str:
    return resp["Custom-Channel-Vars"]["CallFlow-ID"]


PROBE = "*0000"


async def ignored(cf, gw) -> None:
    """Nothing within 3 s; then a control request to a probe callflow is answered, so the
    silence came from the request, not from a service that answers nothing."""
    await gw.no_route_resp()
    await put(cf.store, callflow_doc(numbers=[PROBE], doc_id="f0" * 16))
    assert named(await gw.route_resp(await gw.route_req(PROBE))) == "f0" * 16


async def test_cf_011_stored_numbers_are_not_normalised_at_read_time(cf):
    await put(cf.store, callflow_doc(numbers=["4158867900"]))
    gw = await cf.start()
    await gw.route_req("4158867900")
    await ignored(cf, gw)


async def test_cf_012_star_numbers_are_not_normalised(cf):
    doc = await put(cf.store, callflow_doc(numbers=["*4158867900"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("*4158867900"))) == doc["_id"]


async def test_cf_013_account_e164_converters(cf):
    await cf.store.put(ACCOUNT_DB, {"_id": "configs_number_manager", "pvt_type": "account_config",
                                    "e164_converters": {r"^(\d{4})$": {"prefix": "+4930"}}})
    doc = await put(cf.store, callflow_doc(numbers=["+49302000"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("2000"))) == doc["_id"]


async def test_cf_014_account_dial_plan(cf):
    account = await cf.store.get(ACCOUNT_DB, ACCOUNT)
    await cf.store.put(ACCOUNT_DB, {**account, "dial_plan": {r"^0(\d{9,})$": {"prefix": "+49"}}})
    doc = await put(cf.store, callflow_doc(numbers=["+49301234567"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("0301234567"))) == doc["_id"]


async def test_cf_015_exact_number_beats_pattern(cf):
    exact = await put(cf.store, callflow_doc(numbers=["2001"]))
    await put(cf.store, callflow_doc(patterns=[r"^(2\d{3})$"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("2001"))) == exact["_id"]


async def test_cf_016_pattern_match(cf):
    pattern = await put(cf.store, callflow_doc(patterns=[r"^(2\d{3})$"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("2002"))) == pattern["_id"]


async def test_cf_017_longest_capture_wins(cf):
    await put(cf.store, callflow_doc(patterns=[r"^2(\d{3})$"]))
    p2 = await put(cf.store, callflow_doc(patterns=[r"^(2\d{3})$"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("2001"))) == p2["_id"]


async def test_cf_018_empty_capture_scores_zero(cf):
    await put(cf.store, callflow_doc(patterns=[r"^\*98(\d*)$"]))
    p2 = await put(cf.store, callflow_doc(patterns=[r"^\*98\d*$"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("*98"))) == p2["_id"]


async def test_cf_019_tie_goes_to_the_pattern_sorting_last(cf):
    await put(cf.store, callflow_doc(patterns=[r"^([0-9]{3}4)$"], doc_id="f" * 32))
    p2 = await put(cf.store, callflow_doc(patterns=[r"^([0-9]{4})$"], doc_id="0" * 32))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("1234"))) == p2["_id"]


async def test_cf_020_unanchored_pattern(cf):
    doc = await put(cf.store, callflow_doc(patterns=["55"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("1553"))) == doc["_id"]


async def test_cf_021_invalid_pattern_does_not_break_the_account(cf, caplog):
    bad = await put(cf.store, callflow_doc(patterns=["[invalid"]))
    good = await put(cf.store, callflow_doc(patterns=[r"^(3\d{3})$"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("3001"))) == good["_id"]
    assert any(bad["_id"] in r.getMessage() and "[invalid" in r.getMessage() for r in caplog.records)


async def test_cf_022_duplicate_number_first_id_wins(cf):
    await put(cf.store, callflow_doc(numbers=["2500"], doc_id="b" * 32))
    await put(cf.store, callflow_doc(numbers=["2500"], doc_id="a" * 32))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("2500"))) == "a" * 32


async def test_cf_023_deleted_callflow_is_not_used(cf):
    await put(cf.store, callflow_doc(numbers=["2600"], pvt_deleted=True))
    gw = await cf.start()
    await gw.route_req("2600")
    await ignored(cf, gw)


async def test_cf_024_numbers_of_other_document_types_are_not_used(cf):
    await cf.store.put(ACCOUNT_DB, {"_id": "e" * 32, "pvt_type": "device", "numbers": ["2700"]})
    gw = await cf.start()
    await gw.route_req("2700")
    await ignored(cf, gw)


async def _only_no_match(cf):
    return await put(cf.store, callflow_doc(numbers=["no_match"]))


async def test_cf_025_no_match_for_a_device(cf):
    n = await _only_no_match(cf)
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("5551234"))) == n["_id"]


async def test_cf_026_no_match_refused_to_a_resource(cf):
    await _only_no_match(cf)
    gw = await cf.start()
    await gw.route_req("5551234", ccvs={"Authorizing-Type": "resource"})
    await ignored(cf, gw)


async def test_cf_027_no_match_refused_without_authorizing_type(cf):
    await _only_no_match(cf)
    gw = await cf.start()
    await gw.route_req("5551234", drop_ccvs=("Authorizing-Type", "Authorizing-ID"))
    await ignored(cf, gw)


async def test_cf_028_no_match_only_for_digit_numbers(cf):
    await _only_no_match(cf)
    gw = await cf.start()
    await gw.route_req("*55")
    await ignored(cf, gw)


async def test_cf_029_no_match_for_e164_number(cf):
    n = await _only_no_match(cf)
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("+442071234567"))) == n["_id"]


async def test_cf_030_no_match_callflow_found_by_number_is_still_no_match(cf):
    doc = await put(cf.store, callflow_doc(numbers=["3000", "no_match"]))
    gw = await cf.start()
    await gw.route_req("3000", ccvs={"Authorizing-Type": "resource"})
    await ignored(cf, gw)
    assert named(await gw.route_resp(await gw.route_req("3000"))) == doc["_id"]


async def test_cf_031_known_referrer_unlocks_no_match(cf):
    n = await _only_no_match(cf)
    gw = await cf.start()
    req = await gw.route_req("5551234", ccvs={"Authorizing-Type": "resource",
                                              "Referred-By": f"<sip:user_356@{REALM}>"})
    assert named(await gw.route_resp(req)) == n["_id"]


async def test_cf_032_realm_keyed_requests_are_not_taken(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    await gw.route_req("*97", key="route.req.audio.acme%2Eexample%2Ecom.356", drop_ccvs=("Account-ID",))
    await ignored(cf, gw)


async def test_cf_033_top_level_account_id_alone_is_not_enough(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    await gw.route_req("*97", drop_ccvs=("Account-ID",), **{"Account-ID": ACCOUNT})
    await ignored(cf, gw)


async def test_cf_034_sms_ignored_video_routed(cf):
    doc = await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    await gw.route_req("*97", key=f"route.req.sms.{ACCOUNT}", **{"Resource-Type": "sms"})
    await ignored(cf, gw)
    req = await gw.route_req("*97", key=f"route.req.video.{ACCOUNT}", **{"Resource-Type": "video"})
    assert named(await gw.route_resp(req)) == doc["_id"]


async def test_cf_035_unknown_authorizing_type_ignored(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    await gw.route_req("*97", ccvs={"Authorizing-Type": "mystery"})
    await ignored(cf, gw)


async def test_cf_036_invalid_route_req_ignored(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    no_app = gw.route_req_body("*97")
    del no_app["App-Name"]
    await gw.publish_raw(CALLMGR, f"route.req.audio.{ACCOUNT}", no_app)
    await gw.route_req("*97", **{"Event-Name": "route_request"})
    await ignored(cf, gw)
    # the same request, valid, is answered: the two above failed only for their defect
    assert await gw.route_resp(await gw.route_req("*97"))


async def test_cf_037_request_without_user_ignored(cf):
    await put(cf.store, callflow_doc(numbers=["2000"]))
    gw = await cf.start()
    await gw.route_req("2000", Request=f"@{REALM}")
    await ignored(cf, gw)


async def test_cf_038_sys_info_waits_and_skips_reconcilable_numbers(cf):
    await put(cf.store, callflow_doc(numbers=["2000"]))
    await put(cf.store, callflow_doc(numbers=["+14158867900"]))
    gw = await cf.start()
    started = time.monotonic()
    local = await gw.route_req("2000", ccvs={"Authorizing-Type": "sys_info"})
    resp = await gw.route_resp(local)
    assert time.monotonic() - started >= 0.5
    assert resp["Msg-ID"] == local["Msg-ID"]
    await gw.route_req("4158867900", ccvs={"Authorizing-Type": "sys_info"})
    await ignored(cf, gw)
