"""PIN rules (voicemail.md 5.3, 5.9.1) and the README's PIN security: constant-time compare, hashing."""

from __future__ import annotations

import hmac

import pytest

from voicemail_svc.check import pin


def test_clear_pin_matches_exactly():
    box = {"pin": "1234"}
    assert pin.pin_matches(box, "1234")
    assert not pin.pin_matches(box, "12345")
    assert not pin.pin_matches(box, "123")
    assert not pin.pin_matches(box, "")


def test_box_without_pin_never_matches():
    assert not pin.has_pin({})
    assert not pin.has_pin({"pin": ""})
    assert not pin.pin_matches({}, "")
    assert not pin.pin_matches({"pin": ""}, "")


def test_compare_goes_through_hmac_compare_digest(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(pin.hmac, "compare_digest", spy)
    assert pin.pin_matches({"pin": "1234"}, "1234")
    assert not pin.pin_matches({"pin": "1234"}, "99999999")
    # digests of equal length whatever the PIN lengths: the timing shows neither value nor length
    assert calls == [(32, 32), (32, 32)]


def test_hash_round_trip_and_salt():
    first = pin.hash_pin("4321")
    second = pin.hash_pin("4321")
    assert first != second and first.startswith("pbkdf2_sha256$")
    assert pin.verify_hash(first, "4321")
    assert not pin.verify_hash(first, "4322")
    assert not pin.verify_hash("garbage", "4321")
    assert not pin.verify_hash("md5$1$AA==$AA==", "4321")


def test_hashed_box_is_checked_against_the_hash():
    box = pin.with_new_pin({"pin": "1111", "mailbox": "3456"}, "4321", hashing=True)
    assert "pin" not in box and box[pin.PIN_HASH_FIELD]
    assert pin.has_pin(box)
    assert pin.pin_matches(box, "4321")
    assert not pin.pin_matches(box, "1111")


def test_clear_new_pin_drops_an_old_hash():
    hashed = pin.with_new_pin({"mailbox": "3456"}, "4321", hashing=True)
    clear = pin.with_new_pin(hashed, "5678", hashing=False)
    assert clear["pin"] == "5678" and pin.PIN_HASH_FIELD not in clear
    assert pin.pin_matches(clear, "5678")


@pytest.mark.parametrize("first,second,ok", [
    ("4321", "4321", True), ("123456", "123456", True), ("12*4", "12*4", True),
    ("12", "12", False), ("1234567", "1234567", False), ("", "", False), ("1234", "1235", False),
    ("1234", "", False),
])
def test_new_pin_rules(first, second, ok):
    assert (pin.new_pin_problem(first, second) is None) is ok
