"""Number normalisation (callflow.md 2.3) and the no_match number rule (2.4 step 4)."""

import pytest

from services.routing.numbers import is_reconcilable, no_match_allowed_number, normalize


@pytest.mark.parametrize("dialled, expected", [
    ("4158867900", "+14158867900"),
    ("14158867900", "+14158867900"),
    ("+14158867900", "+14158867900"),
    ("011447911123456", "+447911123456"),
    ("00447911123456", "+447911123456"),
    ("23456789", "+23456789"),
    ("2000", "2000"),
    ("5551234", "5551234"),
    ("*4158867900", "*4158867900"),
    ("*97", "*97"),
    ("no_match", "no_match"),
])
def test_default_converters(dialled, expected):
    assert normalize(dialled) == expected


def test_account_converters_replace_the_defaults():
    converters = {r"^(\d{4})$": {"prefix": "+4930"}}
    assert normalize("2000", converters=converters) == "+49302000"
    assert normalize("4158867900", converters=converters) == "4158867900"


def test_dial_plan_then_converters():
    dial_plan = {r"^0(\d{9,})$": {"prefix": "+49"}}
    assert normalize("0301234567", dial_plan=dial_plan) == "+49301234567"
    # the converters still run on the dial plan's result
    assert normalize("4158867900", dial_plan={r"^(\d+)$": {"suffix": ""}}) == "+14158867900"


def test_dial_plan_first_matching_key_wins_and_suffix():
    dial_plan = {r"^9(\d+)$": {"prefix": "1", "suffix": "0"}, r"^(\d+)$": {"prefix": "x"}}
    assert normalize("9415886790", dial_plan=dial_plan, converters={}) == "14158867900"


def test_bad_converter_regex_is_skipped():
    assert normalize("2000", converters={"[bad": {"prefix": "+1"}, r"^(2\d+)$": {"prefix": "+9"}}) == "+92000"


def test_reconcilable():
    assert is_reconcilable("+14158867900")
    assert not is_reconcilable("2000")
    assert is_reconcilable("2000", r"^\d{4}$")


@pytest.mark.parametrize("number, allowed", [("5551234", True), ("+442071234567", True), ("++123", True),
                                             ("+", True), ("*55", False), ("12a", False)])
def test_no_match_number_rule(number, allowed):
    assert no_match_allowed_number(number) is allowed
