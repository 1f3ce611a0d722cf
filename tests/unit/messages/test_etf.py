"""Erlang term codec and action.result encoding (bus.md 3.8.3 - 3.8.5)."""

import base64
import struct

import pytest

from services.messages import etf
from services.messages.etf import ActionResult, Atom, decode, decode_result, encode, encode_result

# The exact strings of bus.md 3.8.3 and 3.8.5 (what OTP <= 25 produces).
SPEC_VECTORS = [
    (ActionResult("continue"), "g2QACGNvbnRpbnVl"),
    (ActionResult("continue", "_"), "g2gCZAAIY29udGludWVtAAAAAV8="),
    (ActionResult("stop"), "g2QABHN0b3A="),
    (ActionResult("stop", "NORMAL_CLEARING"), "g2gCZAAEc3RvcG0AAAAPTk9STUFMX0NMRUFSSU5H"),
    (ActionResult("transfer"), "g2QACHRyYW5zZmVy"),
    (ActionResult("usurp"), "g2QABXVzdXJw"),
    (ActionResult("continue_with_flow", {"module": "hangup", "data": {}}),
     "g2gCZAASY29udGludWVfd2l0aF9mbG93aAFsAAAAAmgCbQAAAAZtb2R1bGVtAAAABmhhbmd1cGgCbQAAAARkYXRhaAFqag=="),
]


@pytest.mark.parametrize("result, text", SPEC_VECTORS)
def test_spec_vectors_encode_exactly(result, text):
    assert encode_result(result) == text


@pytest.mark.parametrize("result, text", SPEC_VECTORS)
def test_spec_vectors_decode(result, text):
    assert decode_result(text) == result


def test_encode_result_takes_a_kind_value_pair():
    assert encode_result(("continue", "_")) == "g2gCZAAIY29udGludWVtAAAAAV8="
    assert encode_result(("stop", None)) == "g2QABHN0b3A="


def test_flow_term_is_kazoos_proplist_form():
    flow = {"module": "hangup", "data": {}}
    assert etf.json_to_term(flow) == ([(b"module", b"hangup"), (b"data", ([],))],)


# ---- terms ---------------------------------------------------------------------------------

@pytest.mark.parametrize("term, tag", [
    (0, etf.SMALL_INTEGER_EXT), (255, etf.SMALL_INTEGER_EXT),
    (256, etf.INTEGER_EXT), (-1, etf.INTEGER_EXT), (2**31 - 1, etf.INTEGER_EXT), (-2**31, etf.INTEGER_EXT),
    (2**31, etf.SMALL_BIG_EXT), (-2**31 - 1, etf.SMALL_BIG_EXT), (2**64, etf.SMALL_BIG_EXT),
    (-(2**200), etf.SMALL_BIG_EXT),
    (1.5, etf.NEW_FLOAT_EXT), (-0.0, etf.NEW_FLOAT_EXT),
    (Atom("ok"), etf.ATOM_EXT), (Atom("caf\u00e9"), etf.ATOM_EXT),
    (b"", etf.BINARY_EXT), (b"\x00\xff", etf.BINARY_EXT),
    ((), etf.SMALL_TUPLE_EXT), ((Atom("a"), 1, b"x"), etf.SMALL_TUPLE_EXT),
    (tuple(range(300)), etf.LARGE_TUPLE_EXT),
    ([], etf.NIL_EXT), ([1, [2, [3]], (b"k", Atom("v"))], etf.LIST_EXT),
])
def test_round_trip_and_producer_tags(term, tag):
    data = encode(term)
    assert data[0] == 131 and data[1] == tag
    assert decode(data) == term


def test_exact_producer_bytes():
    assert encode(Atom("stop")) == b"\x83d\x00\x04stop"
    assert encode(b"ab") == b"\x83m\x00\x00\x00\x02ab"
    assert encode([1]) == b"\x83l\x00\x00\x00\x01a\x01j"
    assert encode(1000) == b"\x83b\x00\x00\x03\xe8"
    assert encode(2**32) == b"\x83n\x05\x00\x00\x00\x00\x00\x01"
    assert encode(1.0) == b"\x83F" + struct.pack(">d", 1.0)
    assert encode(True) == b"\x83d\x00\x04true"


def test_atoms_decode_as_atoms():
    value = decode(b"\x83d\x00\x04true")
    assert isinstance(value, Atom) and value == "true"


# ---- tags only a consumer must read ------------------------------------------------------

def test_small_atom_ext():
    assert decode(b"\x83s\x08continue") == Atom("continue")


def test_atom_utf8_ext():
    assert decode(b"\x83v\x00\x04stop") == Atom("stop")
    assert decode(b"\x83v\x00\x05" + "café".encode()) == Atom("café")


def test_small_atom_utf8_ext_as_otp26_writes_results():
    otp26 = b"\x83h\x02w\x08continuem\x00\x00\x00\x01_"
    assert decode_result(base64.b64encode(otp26).decode()) == ActionResult("continue", "_")
    assert decode_result(base64.b64encode(b"\x83w\x04stop").decode()) == ActionResult("stop")


def test_large_tuple_ext():
    data = b"\x83i\x00\x00\x00\x02w\x04stopm\x00\x00\x00\x01x"
    assert decode(data) == (Atom("stop"), b"x")
    assert decode_result(base64.b64encode(data).decode()) == ActionResult("stop", "x")


def test_string_ext_is_a_list_of_bytes():
    assert decode(b"\x83k\x00\x03abc") == [97, 98, 99]


# ---- the safe decoder refuses everything else ---------------------------------------------------

@pytest.mark.parametrize("data", [
    pytest.param(b"\x83X" + b"\x00" * 20, id="NEW_PID_EXT"),
    pytest.param(b"\x83gd\x00\x0dnonode@nohost\x00\x00\x00\x01\x00\x00\x00\x00\x00", id="PID_EXT"),
    pytest.param(b"\x83Zd\x00\x01x" + b"\x00" * 12, id="NEWER_REFERENCE_EXT"),
    pytest.param(b"\x83Yd\x00\x01x" + b"\x00" * 8, id="NEW_PORT_EXT"),
    pytest.param(b"\x83p" + b"\x00" * 40, id="NEW_FUN_EXT"),
    pytest.param(b"\x83qd\x00\x01md\x00\x01fa\x01", id="EXPORT_EXT"),
    pytest.param(b"\x83t\x00\x00\x00\x00", id="MAP_EXT"),
    pytest.param(b"\x83P\x00\x00\x00\x0fx\x9c" + b"\x00" * 10, id="compressed"),
    pytest.param(b"\x83o\x00\x00\x00\x01\x02\x01", id="bad LARGE_BIG_EXT sign"),
    pytest.param(b"\x83o\xff\xff\xff\xff\x00\x01", id="LARGE_BIG_EXT longer than the input"),
    pytest.param(b"\x83c" + b"1.0".ljust(31, b"\x00"), id="FLOAT_EXT"),
    pytest.param(b"\x83M\x00\x00\x00\x01\x03\x80", id="BIT_BINARY_EXT"),
    pytest.param(b"\x83l\x00\x00\x00\x01a\x01a\x02", id="improper list"),
    pytest.param(b"\x83a\x01\x00", id="trailing byte"),
    pytest.param(b"\x83m\x00\x00\x00\x05ab", id="truncated binary"),
    pytest.param(b"\x83", id="nothing after the version"),
    pytest.param(b"", id="empty"),
    pytest.param(b"\x84a\x01", id="wrong version"),
    pytest.param(b"\x83l\xff\xff\xff\xffj", id="list count larger than the input"),
    pytest.param(b"\x83i\xff\xff\xff\xff", id="tuple arity larger than the input"),
    pytest.param(b"\x83F" + struct.pack(">d", float("nan")), id="NaN"),
    pytest.param(b"\x83v\x00\x02\xc3\x28", id="atom not UTF-8"),
    pytest.param(b"\x83d\x01\x00" + b"a" * 256, id="atom too long"),
    pytest.param(b"\x83n\x01\x02\x01", id="bad bignum sign"),
    pytest.param(b"\x83" + b"h\x01" * (etf.MAX_DEPTH + 1) + b"j", id="nested too deep"),
])
def test_decoder_refuses(data):
    with pytest.raises(ValueError):
        decode(data)


def test_decoder_refuses_oversized_input():
    with pytest.raises(ValueError):
        decode(b"\x83m" + struct.pack(">I", etf.MAX_INPUT_BYTES) + b"x" * etf.MAX_INPUT_BYTES)


@pytest.mark.parametrize("term, error", [
    ("text", TypeError),
    ({"a": 1}, TypeError),
    (None, TypeError),
    (Atom("\ud800"), ValueError),           # a lone surrogate is no text
    (Atom("a" * 256), ValueError),
    (Atom("\u4e2d" * 256), ValueError),
    (float("inf"), ValueError),
    (float("nan"), ValueError),
    (set(), TypeError),
])
def test_encoder_refuses(term, error):
    with pytest.raises(error):
        encode(term)


def test_encoder_refuses_self_reference():
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError):
        encode(loop)


# ---- JSON <-> term -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    {}, [], {"a": {"b": [1, 2.5, "x", True, False, None]}}, "résumé", 0, -7, 2**40,
    {"module": "voicemail", "data": {"action": "check"}, "children": {"_": {"module": "hangup", "data": {}}}},
])
def test_json_round_trip_through_bytes(value):
    assert etf.term_to_json(decode(encode(etf.json_to_term(value)))) == value


def test_json_keeps_document_order():
    value = {"z": 1, "a": 2, "m": 3}
    assert list(etf.term_to_json(etf.json_to_term(value))) == ["z", "a", "m"]


@pytest.mark.parametrize("term", [(1, 2), ([1],), ([(1, 2)],), b"\xff", ([(b"\xff", 1)],)])
def test_terms_that_are_no_json_value(term):
    with pytest.raises(ValueError):
        etf.term_to_json(term)


# ---- results: JSON form, refusals -------------------------------------------------------------------

@pytest.mark.parametrize("text, result", [
    ('"continue"', ActionResult("continue")),
    (' "stop" ', ActionResult("stop")),
    ('"transfer"', ActionResult("transfer")),
    ('"usurp"', ActionResult("usurp")),
    ('{"continue": "1"}', ActionResult("continue", "1")),
    ('{"continue": null}', ActionResult("continue")),
    ('{"stop": "USER_BUSY"}', ActionResult("stop", "USER_BUSY")),
    ('{"continue_with_flow": {"module": "hangup", "data": {}}}',
     ActionResult("continue_with_flow", {"module": "hangup", "data": {}})),
])
def test_json_results_are_accepted(text, result):
    assert decode_result(text) == result


@pytest.mark.parametrize("text", [
    "", "continue", '"jump"', '"continue_with_flow"', '{"continue": 5}', '{"transfer": "x"}',
    '{"continue": "1", "stop": null}', "[]", '{"continue_with_flow": "hangup"}', "{not json",
    "g2QACGNvbnRpbnVl!", "g2QACGNvbnRpbnV",  # not base64 / bad padding
    base64.b64encode(encode((Atom("foo"), b"x"))).decode(),  # decodes, but is no result
    base64.b64encode(encode((Atom("continue"), 5))).decode(),
    base64.b64encode(encode(Atom("branch"))).decode(),
    base64.b64encode(b"\x83X" + b"\x00" * 20).decode(),  # a pid
])
def test_bad_results_are_refused(text):
    with pytest.raises(ValueError):
        decode_result(text)


def test_action_result_checks_kind_and_value():
    with pytest.raises(ValueError):
        ActionResult("branch")
    with pytest.raises(ValueError):
        ActionResult("continue_with_flow")
    with pytest.raises(ValueError):
        ActionResult("usurp", "x")
    with pytest.raises(ValueError):
        ActionResult("continue", 1)
