"""The call built from a route_req (callflow.md 2.2, 3.3; bus.md 3.8.6): its fields are filled in
when first read, and are then what the route_req said."""

from callflow_svc.call import Call

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
REQ = {
    "Call-ID": "c1", "Request": "*97@acme.example.com", "To": "*97@acme.example.com",
    "From": "user_356@acme.example.com", "Caller-ID-Name": "Ann", "Caller-ID-Number": "356", "Resource-Type": "audio",
    "Switch-Nodename": "", "Msg-ID": "m1",
    "Custom-Channel-Vars": {"Account-ID": ACCOUNT, "Authorizing-ID": "d1", "Authorizing-Type": "device",
                            "Owner-ID": "u1", "Fetch-ID": "m1"},
}


def test_identity_without_building_the_fields():
    call = Call.from_route_req(REQ, request_user="*97")
    assert (call.call_id, call.account_id) == ("c1", ACCOUNT)
    assert call._fields is None
    assert call.fetch_id == "m1"


def test_fields_once_read():
    call = Call.from_route_req(REQ, request_user="*97")
    assert call.fields == {
        "Call-ID": "c1", "Request": "*97@acme.example.com", "To": "*97@acme.example.com",
        "From": "user_356@acme.example.com", "Caller-ID-Name": "Ann", "Caller-ID-Number": "356",
        "Resource-Type": "audio", "Account-ID": ACCOUNT, "Account-DB": "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502",
        "Authorizing-ID": "d1", "Authorizing-Type": "device", "Owner-ID": "u1", "Fetch-ID": "m1",
        "Request-User": "*97", "Request-Realm": "acme.example.com", "From-User": "user_356",
        "From-Realm": "acme.example.com", "To-User": "*97", "To-Realm": "acme.example.com",
    }


def test_route_win_merges_ccvs_and_sets_the_control_queue():
    call = Call.from_route_req(REQ, request_user="*97")
    call.ccvs["Extra"] = "kept"
    call.apply_route_win({"Control-Queue": "cq", "Custom-Channel-Vars": {"Ecallmgr-Node": "gw@sim",
                                                                         "Authorizing-ID": "d2"}},
                         controller_queue="callflow_route_x", callflow_id="cf1")
    serialized = call.to_json()
    assert serialized["Control-Queue"] == "cq" and serialized["Controller-Queue"] == "callflow_route_x"
    assert serialized["Authorizing-ID"] == "d2"
    assert serialized["Custom-Channel-Vars"] == {**REQ["Custom-Channel-Vars"], "Extra": "kept",
                                                 "Ecallmgr-Node": "gw@sim", "Authorizing-ID": "d2",
                                                 "CallFlow-ID": "cf1"}


def test_unknown_referrer_clears_the_authorizing_id_everywhere():
    call = Call.from_route_req(REQ, request_user="*97")
    call.clear_authorizing_id()
    assert "Authorizing-ID" not in call.fields and "Authorizing-ID" not in call.ccvs
    assert call.authorizing_type == "device"
    assert REQ["Custom-Channel-Vars"]["Authorizing-ID"] == "d1"     # the route_req itself is untouched


def test_known_referrer_reattributes_the_call():
    call = Call.from_route_req(REQ, request_user="*97")
    call.set_authorizing_id("d9")
    assert call.authorizing_id == "d9" and call.ccvs["Authorizing-ID"] == "d1"
