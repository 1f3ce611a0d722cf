"""A sysconf ``Value`` is data: "" and null travel as given (config.md 2.4, 4.4; CFG-013, CFG-027)."""

import pytest

from services.bus.publisher import Publisher
from services.messages import catalogue
from services.messages.errors import InvalidMessage
from services.messages.validation import Validator


@pytest.fixture
def publisher():
    return Publisher(None, Validator(), app_name="config_svc", app_version="4.0.0", node="kz@test")


def test_empty_value_survives_building_a_get_resp(publisher):
    body = publisher.build(catalogue.SYSCONF_GET_RESP,
                           {"Msg-ID": "req-1", "Category": "callflow", "Key": "k", "Value": ""})
    assert body["Value"] == ""
    assert Validator().parse(body)["Value"] == ""


def test_null_value_survives_building_a_set_req(publisher):
    body = publisher.build(catalogue.SYSCONF_SET_REQ, {"Category": "callflow", "Key": "k", "Value": None})
    assert "Value" in body and body["Value"] is None


def test_other_empty_fields_are_still_stripped_and_value_is_still_required(publisher):
    body = publisher.build(catalogue.SYSCONF_GET_RESP,
                           {"Msg-ID": "req-1", "Category": "callflow", "Key": "k", "Value": 1, "Node": ""})
    assert "Node" not in body
    with pytest.raises(InvalidMessage):
        publisher.build(catalogue.SYSCONF_GET_RESP, {"Msg-ID": "req-1", "Category": "callflow", "Key": "k"})
    with pytest.raises(InvalidMessage):   # an empty Key is still "missing"
        publisher.build(catalogue.SYSCONF_GET_RESP, {"Msg-ID": "req-1", "Category": "callflow", "Key": "", "Value": 1})
