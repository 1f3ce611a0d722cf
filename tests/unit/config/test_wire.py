"""services.config.wire: sysconf replies with ``"Value": ""`` pass our own checks (CFG-013)."""

import pytest

from services.config.wire import ReplyValidator
from services.messages import catalogue
from services.messages.errors import InvalidMessage
from services.messages.validation import Validator

GET_RESP = catalogue.get("sysconf.get_resp")


def body(**fields):
    return {"Event-Category": "sysconf", "Event-Name": "get_resp", "App-Name": "config_svc", "App-Version": "4.0.0",
            "Msg-ID": "m1", "Category": "callflow", "Key": "k", **fields}


def test_empty_value_accepted_in_replies_only():
    validator = ReplyValidator(Validator())
    message = validator.parse(body(Value=""))
    assert message["Value"] == "" and message.spec is GET_RESP
    with pytest.raises(InvalidMessage):
        validator.parse(body())                                  # Value is still required
    with pytest.raises(InvalidMessage):
        validator.validate(catalogue.get("sysconf.get_req"), {**body(Key=""), "Event-Name": "get_req"})
