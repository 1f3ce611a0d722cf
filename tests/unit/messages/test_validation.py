"""identify / validate / parse (services.messages.validation)."""

import pytest

from services.messages import catalogue as c
from services.messages.errors import InvalidMessage, UnknownMessage
from services.messages.spec import DEFAULT_HEADERS, Message
from services.messages.validation import Validator, identify
from tests.contract.examples import build


@pytest.fixture(scope="module")
def validator():
    return Validator()


def check(validator, spec_key, **changes):
    body = build(spec_key)
    for field, value in changes.items():
        field = field.replace("_", "-")
        if value is ...:
            body.pop(field, None)
        else:
            body[field] = value
    validator.validate(c.get(spec_key), body)


def rejected(validator, spec_key, **changes) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as info:
        check(validator, spec_key, **changes)
    assert info.value.reason == "schema"
    return info.value


# ---- numbers and booleans (bus.md 2.3) ------------------------------------------------

@pytest.mark.parametrize("spec_key, field, values", [
    ("command.record", "Time-Limit", ["300", 300, "0"]),
    ("command.playseek", "Duration", [10000, "10000"]),
    ("command.play_and_collect_digits", "Maximum-Digits", [4, "4"]),
    ("command.sleep", "Time", ["50", 50]),
    ("call_event.CHANNEL_EXECUTE_COMPLETE", "Timestamp", [63877478400, "63877478400"]),
    ("call_event.RECORD_STOP", "Length", ["5230", 5230]),
    ("call_event.DTMF", "DTMF-Duration", [2000, "2000", 20.5, "20.5"]),
    ("presence.mwi_update", "Messages-New", [2, "2", 0]),
    ("notification.voicemail_full", "Message-Count", [100, "100"]),
])
def test_numbers_and_decimal_strings_are_both_accepted(validator, spec_key, field, values):
    for value in values:
        check(validator, spec_key, **{field: value})


@pytest.mark.parametrize("spec_key, field, value", [
    ("command.record", "Time-Limit", "3OO"),
    ("command.record", "Time-Limit", "300\n"),
    ("command.record", "Time-Limit", "-"),
    ("command.record", "Time-Limit", True),
    ("command.record", "Time-Limit", 1.5),
    ("command.record", "Time-Limit", "1" * 40),
    ("presence.mwi_update", "Messages-New", -1),
    ("presence.mwi_update", "Messages-New", "-1"),
    ("command.play", "Loop-Count", 0),
    ("call_event.DTMF", "DTMF-Duration", "fast"),
])
def test_non_numbers_are_rejected(validator, spec_key, field, value):
    assert field in str(rejected(validator, spec_key, **{field: value}))


def test_booleans_accept_true_false_and_their_strings(validator):
    for value in (True, False, "true", "false"):
        check(validator, "command.play", **{"Endless-Playback": value})
    for value in ("yes", 1, 0, None):
        rejected(validator, "command.play", **{"Endless-Playback": value})


# ---- default headers and required values -------------------------------------------------

@pytest.mark.parametrize("header", DEFAULT_HEADERS)
@pytest.mark.parametrize("value", [..., "", 42])
def test_identify_rejects_a_missing_or_empty_default_header(header, value):
    body = build("command.play")
    if value is ...:
        del body[header]
    else:
        body[header] = value
    with pytest.raises(InvalidMessage) as info:
        identify(body)
    assert info.value.reason == "missing_header"
    assert header in info.value.detail


def test_identify_rejects_a_non_object():
    with pytest.raises(InvalidMessage) as info:
        identify(["not", "an", "object"])
    assert info.value.reason == "not_object"


@pytest.mark.parametrize("header", DEFAULT_HEADERS)
def test_schema_also_requires_default_headers(validator, header):
    assert header in str(rejected(validator, "route.req", **{header: ...}))


@pytest.mark.parametrize("spec_key, field", [
    ("command.play", "Media-Name"),
    ("command.play", "Call-ID"),
    ("route.req", "Request"),
    ("sysconf.set_req", "Value"),
    ("presence.mwi_query", "Realm"),
])
def test_an_empty_required_value_counts_as_missing(validator, spec_key, field):
    rejected(validator, spec_key, **{field: ""})
    assert field in str(rejected(validator, spec_key, **{field: ...}))


def test_an_empty_optional_value_counts_as_absent(validator):
    check(validator, "command.play", **{"Insert-At": "", "Group-ID": "", "Endless-Playback": "", "Loop-Count": ""})


def test_sysconf_value_may_be_null_or_any_json(validator):
    for value in (None, 0, False, [], {"a": 1}, "undefined"):
        check(validator, "sysconf.set_req", Value=value)


def test_sysconf_key_is_a_string_or_a_path(validator):
    check(validator, "sysconf.get_req", Key="default_language")
    check(validator, "sysconf.get_req", Key=["voicemail", "max_message_count"])
    rejected(validator, "sysconf.get_req", Key=[])
    rejected(validator, "sysconf.get_req", Key=[1])


# ---- fixed values, enums and shapes ---------------------------------------------------------

def test_wrong_application_name_is_rejected(validator):
    error = rejected(validator, "command.play", **{"Application-Name": "tts"})
    assert "Application-Name" in error.detail and "tts" in error.detail


def test_wrong_event_name_is_rejected(validator):
    rejected(validator, "route.req", **{"Event-Name": "route_resp"})


@pytest.mark.parametrize("spec_key, field, value", [
    ("command.play", "Insert-At", "later"),
    ("command.break", "Insert-At", "tail"),
    ("route.resp", "Method", "teleport"),
    ("command.say", "Type", "poem"),
    ("call_event.DTMF", "DTMF-Digit", "E"),
    ("sysconf.set_resp", "Status", "maybe"),
    ("notification.notify_update", "Status", "done"),
])
def test_enums_are_enforced(validator, spec_key, field, value):
    rejected(validator, spec_key, **{field: value})


@pytest.mark.parametrize("spec_key, field, value", [
    ("route.req", "Custom-Channel-Vars", "Account-ID=1"),
    ("command.play", "Media-Name", ["a"]),
    ("command.play", "Terminators", ["#", "x"]),
    ("command.play", "Terminators", "#"),
    ("command.tones", "Tones", [{"Frequencies": "440", "Duration-ON": "500", "Duration-OFF": "100"}]),
    ("command.tones", "Tones", [{"Frequencies": ["440"], "Duration-ON": "500"}]),
    ("command.queue", "Commands", ["play"]),
    ("callflow.action.execute", "Data", "check"),
    ("callflow.action.execute", "Call", {"Call-ID": "x"}),
    ("error.dialplan", "Request", "play"),
    ("call_event.RECORD_STOP", "Recording", "/tmp/x.mp3"),
    ("call_event.RECORD_STOP", "Silence-Terminated", "no"),
    ("call_event.CHANNEL_DESTROY", "Media-Recordings", "none"),
])
def test_wrong_shapes_are_rejected(validator, spec_key, field, value):
    assert field in str(rejected(validator, spec_key, **{field: value}))


def test_terminators_none_and_empty_mean_no_terminators(validator):
    for value in ([], "none", ["none"], ""):
        check(validator, "command.play", Terminators=value)


def test_extra_keys_are_allowed(validator):
    check(validator, "command.play", **{"X-Whatever": {"nested": True}})


@pytest.mark.parametrize("spec_key, field, value", [
    ("command.play", "Call-ID", "c" * 257),
    ("command.play", "Msg-ID", "m" * 257),
    ("command.tts", "Text", "t" * 8193),
    ("command.queue", "Commands", [{"Application-Name": "noop"}] * 129),
    ("route.req", "Custom-Channel-Vars", {f"k{i}": i for i in range(513)}),
])
def test_oversized_input_is_rejected(validator, spec_key, field, value):
    rejected(validator, spec_key, **{field: value})


def test_too_many_top_level_keys_are_rejected(validator):
    body = build("call_event.DTMF")
    body.update({f"X-{i}": "x" for i in range(1100)})
    with pytest.raises(InvalidMessage):
        validator.validate(c.CALL_EVENTS["DTMF"], body)


def test_detail_names_the_nested_field(validator):
    body = build("command.tones")
    body["Tones"][0]["Frequencies"] = "440"
    with pytest.raises(InvalidMessage) as info:
        validator.validate(c.COMMANDS["tones"], body)
    assert "Tones[0].Frequencies" in info.value.detail


# ---- identify and parse -------------------------------------------------------------------

def test_identify_picks_the_command_by_application_name():
    body = build("command.play")
    assert identify(body) is c.COMMANDS["play"]
    body["Application-Name"] = "tts"
    assert identify(body) is c.COMMANDS["tts"]


def test_identify_ignores_application_name_on_events():
    body = build("call_event.CHANNEL_EXECUTE_COMPLETE")
    body["Application-Name"] = "play"
    assert identify(body) is c.CALL_EVENTS["CHANNEL_EXECUTE_COMPLETE"]


@pytest.mark.parametrize("changes", [
    {"Application-Name": "bridge"},
    {"Application-Name": ...},
    {"Event-Name": "CHANNEL_BRIDGE", "Event-Category": "call_event"},
    {"Event-Category": "conference"},
])
def test_identify_raises_unknown_message(changes):
    body = build("command.play")
    for field, value in changes.items():
        if value is ...:
            del body[field]
        else:
            body[field] = value
    with pytest.raises(UnknownMessage) as info:
        identify(body)
    assert info.value.reason == "unknown"


def test_parse_wraps_a_valid_body(validator):
    body = build("call_event.DTMF")
    message = validator.parse(body, headers={"call-id": body["Call-ID"]}, routing_key="call.DTMF.x")
    assert isinstance(message, Message)
    assert message.spec is c.CALL_EVENTS["DTMF"]
    assert message["DTMF-Digit"] == "1"
    assert message.call_id == body["Call-ID"] and message.msg_id == body["Msg-ID"]
    assert message.headers["call-id"] == body["Call-ID"] and message.routing_key == "call.DTMF.x"


def test_parse_rejects_an_invalid_body(validator):
    body = build("call_event.DTMF")
    body["DTMF-Digit"] = "10"
    with pytest.raises(InvalidMessage) as info:
        validator.parse(body)
    assert info.value.reason == "schema"


# ---- compiling ---------------------------------------------------------------------------------

def test_each_schema_is_compiled_once(monkeypatch):
    import fastjsonschema

    calls = []
    real = fastjsonschema.compile
    monkeypatch.setattr(fastjsonschema, "compile", lambda schema, **kw: calls.append(schema["$id"]) or real(schema, **kw))
    fresh = Validator()
    for _ in range(3):
        fresh.validate(c.COMMANDS["play"], build("command.play"))
    assert calls == ["kzvoice:messages/call.command.play.json"]
    assert fresh.compile_all() == len(list(c.all_specs()))
    assert calls.count("kzvoice:messages/call.command.play.json") == 1


def test_a_missing_schema_directory_is_reported(tmp_path):
    with pytest.raises(LookupError, match="not found"):
        Validator(tmp_path).validate(c.COMMANDS["play"], build("command.play"))


def test_default_schema_dir_is_the_settings_one():
    from services.settings import Settings

    assert Validator().schema_dir == Validator(Settings().schema_dir).schema_dir
