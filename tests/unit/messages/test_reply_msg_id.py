"""A reply carries the Msg-ID of the request it answers; the publisher never makes one up for it.

KAZOO's callflow executor matches action.accepted and action.result by the action's Msg-ID (its
schemas require the field), as the gateway matches route_resp and our reply queues match every
reply: a reply with a fresh Msg-ID is silently ignored, so building one without it is an error.
"""

import pytest

from services.bus.publisher import Publisher
from services.messages import catalogue
from services.messages.errors import InvalidMessage
from services.messages.validation import Validator

REPLIES = {
    "callflow.action.accepted": {"Call-ID": "c1"},
    "callflow.action.result": {"Call-ID": "c1", "Result": "g2QACGNvbnRpbnVl"},
    "route.resp": {"Method": "park"},
    "sysconf.get_resp": {"Category": "callflow", "Key": "k", "Value": 1},
    "sysconf.set_resp": {"Category": "callflow", "Key": "k", "Value": 1},
    "notification.notify_update": {"Status": "completed"},
    "switch_event.reply": {"Command": "send_http", "Result": "success"},
}


@pytest.fixture
def publisher():
    return Publisher(None, Validator(), app_name="voicemail", app_version="4.0.0", node="kz@test")


@pytest.mark.parametrize("key", sorted(REPLIES))
def test_a_reply_without_its_requests_msg_id_is_refused(publisher, key):
    spec = catalogue.get(key)
    assert "Msg-ID" in spec.required
    with pytest.raises(InvalidMessage, match="Msg-ID of the request"):
        publisher.build(spec, REPLIES[key])
    with pytest.raises(InvalidMessage):
        publisher.build(spec, {**REPLIES[key], "Msg-ID": ""})
    assert publisher.build(spec, {**REPLIES[key], "Msg-ID": "the-request"})["Msg-ID"] == "the-request"


def test_a_request_still_gets_a_fresh_msg_id(publisher):
    body = publisher.build(catalogue.get("sysconf.get_req"), {"Category": "callflow", "Key": "k"})
    assert len(body["Msg-ID"]) == 32
