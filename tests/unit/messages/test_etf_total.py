"""The Erlang term encoder is total, and what it writes is read back as written.

* every shape ``encode`` accepts -- atoms (Latin-1 or not), booleans, integers of any size,
  finite floats, binaries, tuples, lists, nested up to ``MAX_DEPTH`` -- comes back from our
  ``decode`` as it went in (Hypothesis draws them, and the boundaries are listed);
* the same terms go through a real Erlang node: ``binary_to_term`` of our bytes, then
  ``term_to_binary`` of what it read, decoded by us, must be the term we wrote.  This runs when
  ``erl`` is installed (Debian's ``erlang-base``) and is skipped with the reason printed when it
  is not;
* a result that truly has no Erlang term is answered ``continue``, and the log says why.

Before the fix an integer past 2**2040 raised (no ``LARGE_BIG_EXT``), so did a non-Latin-1 atom,
and a flow nested more than ~20 levels deep (the depth limit counted term levels).
"""

from __future__ import annotations

import base64
import logging
import math
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.messages import etf
from services.messages.etf import ActionResult, Atom, decode, decode_result, encode, encode_result_or_continue

# ---- what the encoder accepts, and what it should read back as ----------------------------------


def same(got, want) -> bool:
    """``got`` is what ``decode(encode(want))`` must give: equal, with the same types all the way
    down (an atom is not a binary, 1 is not 1.0), except that a boolean comes back as the atom
    true/false and a bytearray as bytes.  Walked without recursion: some terms are 10,000 deep."""
    pending = [(got, want)]
    while pending:
        g, w = pending.pop()
        if isinstance(w, bool):
            w = Atom("true" if w else "false")
        elif isinstance(w, bytearray):
            w = bytes(w)
        if type(g) is not type(w):
            return False
        if isinstance(w, (list, tuple)):
            if len(g) != len(w):
                return False
            pending.extend(zip(g, w))
        elif isinstance(w, float):
            if g != w or math.copysign(1, g) != math.copysign(1, w):
                return False
        elif g != w:
            return False
    return True


def nested(depth: int):
    term: list = []
    for _ in range(depth - 1):
        term = [term]
    return term


def big(bytes_: int) -> int:
    return 1 << (8 * bytes_ - 1)


def nested_flow(depth: int) -> dict:
    """A flow ``depth`` nodes long, each the ``_`` child of the one before."""
    node: dict = {"module": "hangup", "data": {}}
    for index in range(depth):
        node = {"module": "play", "data": {"id": f"p{index}"}, "children": {"_": node}}
    return node


# name -> a builder of the term (built when the test runs, so each fails on its own)
BOUNDARIES = {
    "2**2040 (the issue's example)": lambda: 2 ** 2040 + 12345,
    "largest SMALL_BIG_EXT": lambda: (1 << (8 * 255)) - 1,
    "smallest LARGE_BIG_EXT": lambda: 1 << (8 * 255),
    "negative LARGE_BIG_EXT": lambda: -(1 << (8 * 255)) - 7,
    "100 kB integer": lambda: big(100_000) + 3,
    "int32 edges": lambda: [2 ** 31 - 1, -2 ** 31, 2 ** 31, -2 ** 31 - 1, 255, 256, 0, -1],
    "Latin-1 atom": lambda: Atom("caf\u00e9"),
    "UTF-8 atom, short": lambda: Atom("\u4e2d\u6587"),
    "UTF-8 atom of 255 characters, 765 bytes": lambda: Atom("\u4e2d" * 255),
    "emoji atom": lambda: Atom("\U0001f600"),
    "atom of 255 Latin-1 characters": lambda: Atom("\u00e9" * 255),
    "empty atom": lambda: Atom(""),
    "booleans": lambda: (True, False),
    "floats": lambda: [1.5, -0.0, 1e308, 5e-324, -2.5e-300],
    "binaries": lambda: [b"", b"\x00\xff" * 40_000],
    "bytearray": lambda: bytearray(b"abc"),
    "tuples": lambda: [(), (1,), tuple(range(255)), tuple(range(256))],
    "list of bytes (Erlang writes it as a string)": lambda: list(range(256)),
    "deep list": lambda: nested(etf.MAX_DEPTH),
    "deep flow": lambda: etf.result_to_term(ActionResult("continue_with_flow", nested_flow(400))),
    "results": lambda: [etf.result_to_term(ActionResult(kind)) for kind in ("continue", "stop", "transfer", "usurp")]
    + [etf.result_to_term(ActionResult("stop", "NORMAL_CLEARING"))],
}


@pytest.mark.parametrize("name", sorted(BOUNDARIES))
def test_boundary_terms_round_trip(name):
    term = BOUNDARIES[name]()
    assert same(decode(encode(term)), term)


def test_large_integers_use_large_big_ext_and_small_ones_small_big_ext():
    assert encode((1 << (8 * 255)) - 1)[1] == etf.SMALL_BIG_EXT
    assert encode(1 << (8 * 255))[1:6] == bytes((etf.LARGE_BIG_EXT, 0, 0, 1, 0))   # 256 bytes of magnitude
    assert encode(-(1 << (8 * 255)))[6] == 1                                          # the sign byte


def test_atoms_latin1_then_utf8():
    assert encode(Atom("ok"))[1] == etf.ATOM_EXT
    assert encode(Atom("\u4e2d"))[1] == etf.SMALL_ATOM_UTF8_EXT
    assert encode(Atom("\u4e2d" * 255))[1] == etf.ATOM_UTF8_EXT


def test_json_deeper_than_the_old_limit_round_trips():
    flow = nested_flow(400)                             # 1200 JSON levels, ~3600 term levels
    term = etf.json_to_term(flow)
    assert etf.term_to_json(decode(encode(term))) == flow


def test_depth_past_the_bound_is_refused_both_ways():
    with pytest.raises(ValueError, match="deeper"):
        encode(nested(etf.MAX_DEPTH + 1))
    with pytest.raises(ValueError, match="deeper"):
        decode(b"\x83" + b"l\x00\x00\x00\x01" * etf.MAX_DEPTH + b"j" + b"j" * etf.MAX_DEPTH)


atoms = st.text(max_size=255).map(Atom)
integers = st.one_of(st.integers(), st.integers(0, 40_000).flatmap(lambda bits: st.integers(-(1 << bits), 1 << bits)))
floats = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.one_of(atoms, st.booleans(), integers, floats, st.binary(max_size=300))
terms = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=6),
                                                         st.lists(children, max_size=6).map(tuple)),
                     max_leaves=40)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms)
def test_every_accepted_shape_round_trips_through_our_decoder(term):
    assert same(decode(encode(term)), term)


# ---- a real Erlang node -------------------------------------------------------------------------

ERL_ROUND_TRIP = (
    'Loop = fun L() -> case io:get_line("") of eof -> ok; Line -> '
    'T = binary_to_term(base64:decode(string:trim(Line))), '
    'io:put_chars([base64:encode(term_to_binary(T)), "\\n"]), L() end end, Loop(), halt().'
)


def erlang_round_trip(encoded: list[bytes]) -> list[bytes]:
    """``term_to_binary(binary_to_term(B))`` for each B, in one ``erl`` run."""
    erl = shutil.which("erl")
    if erl is None:
        reason = "erl not found (Debian: apt-get install erlang-base); the Erlang round trip is skipped"
        print(reason)
        pytest.skip(reason)
    lines = "".join(base64.b64encode(b).decode() + "\n" for b in encoded)
    done = subprocess.run([erl, "-noshell", "-eval", ERL_ROUND_TRIP], input=lines, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"erl failed: {done.stderr or done.stdout}"
    out = done.stdout.split()
    assert len(out) == len(encoded), done.stdout[-2000:]
    return [base64.b64decode(line) for line in out]


def sample_terms() -> list:
    """The boundaries, and a few hundred drawn terms (a fixed seed: the same every run)."""
    import random

    rng = random.Random(15)

    def draw(depth: int = 0):
        kind = rng.randrange(9 if depth < 4 else 6)
        if kind == 0:
            return Atom("".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(160, 0x2FFF))))
                                for _ in range(rng.randrange(0, 12))))
        if kind == 1:
            return rng.choice((True, False))
        if kind == 2:
            bits = rng.choice((7, 8, 31, 32, 64, 2040, 2048, 2049, 9000))
            return rng.randrange(-(1 << bits), 1 << bits)
        if kind == 3:
            return rng.uniform(-1e300, 1e300)
        if kind == 4:
            return rng.randbytes(rng.randrange(0, 40))
        if kind == 5:
            return rng.randrange(0, 256)
        items = [draw(depth + 1) for _ in range(rng.randrange(0, 6))]
        return tuple(items) if kind == 6 else items

    return [build() for build in BOUNDARIES.values()] + [draw() for _ in range(300)]


def test_erlang_reads_what_we_write():
    terms = sample_terms()
    back = erlang_round_trip([encode(term) for term in terms])
    wrong = [i for i, (term, data) in enumerate(zip(terms, back)) if not same(decode(data), term)]
    assert wrong == [], f"{len(wrong)} term(s) read differently by Erlang, e.g. {terms[wrong[0]]!r:.200}"


# ---- a result with no Erlang term is answered continue ------------------------------------------

@pytest.mark.parametrize("value", [
    {"module": "play", "data": {"volume": float("nan")}},
    {"module": "play", "data": {"id": "\ud800"}},                 # not Unicode text
    {"module": "play", "data": {"ids": {1, 2}}},                  # a set is no JSON value
])
def test_a_result_that_cannot_be_written_becomes_continue_and_says_why(value, caplog):
    caplog.set_level(logging.ERROR, logger="services.messages.etf")
    text, kind = encode_result_or_continue(ActionResult("continue_with_flow", value))
    assert kind == "continue" and decode_result(text) == ActionResult("continue")
    assert "cannot be written as an Erlang term" in caplog.text and "answering continue" in caplog.text


def test_a_writable_result_is_sent_as_it_is():
    result = ActionResult("continue_with_flow", {"module": "play", "data": {"n": 2 ** 3000}})
    text, kind = encode_result_or_continue(result)
    assert kind == "continue_with_flow" and decode_result(text) == result
