"""services.config.coerce: KAZOO's typed-getter coercions (config.md 2.5)."""

import pytest

from services.config import coerce
from services.config.paths import MISSING


def test_is_true_only_true_and_the_string_true():
    assert [coerce.is_true(v) for v in (True, "true", "TRUE", 1, "yes", "1", False, None)] == \
        [True, True, False, False, False, False, False, False]


def test_is_false():
    assert [coerce.is_false(v) for v in (False, "false", "FALSE", 0, None)] == [True, True, False, False, False]


@pytest.mark.parametrize("value, expected", [(25, 25), ("25", 25), ("2.6", 3), (2.6, 3), (2.5, 3), (-2.5, -3),
                                             ("-7", -7), (0, 0)])
def test_to_integer(value, expected):
    assert coerce.to_integer(value) == expected


@pytest.mark.parametrize("value", ["abc", "", True, False, None, {"a": 1}, [1], "2.", "1e5"])
def test_to_integer_bad_values(value):
    with pytest.raises(coerce.BadValue):
        coerce.to_integer(value)


@pytest.mark.parametrize("value, expected", [("5000", 10000), (-1, 10000), (0, 0), (2500, 2500), (2.0, 10000),
                                             (True, 10000), (MISSING, 10000)])
def test_to_non_neg_integer(value, expected):
    assert coerce.to_non_neg_integer(value, 10000) == expected


def test_to_pos_integer():
    assert [coerce.to_pos_integer(v, 93) for v in (0, 1, "5", -3, 30)] == [93, 1, 93, 93, 30]


@pytest.mark.parametrize("value, expected", [("", "0"), ("0", "0"), (None, "0"), (9, "9"), (MISSING, "0"),
                                             ("NULL", "0"), ("undefined", "0"), (0, "0"), (0.0, "0"), ([], "0"),
                                             ({}, "0"), (98, "98"), (True, "true"), ("*", "*"),
                                             ({"a": 1}, '{"a":1}'), (["ab", "cd"], "abcd"), ([104, "i"], "hi")])
def test_to_ne_binary(value, expected):
    assert coerce.to_ne_binary(value, "0") == expected


def test_to_ne_binary_list_that_cannot_be_text():
    with pytest.raises(coerce.BadValue):
        coerce.to_ne_binary([{"a": 1}], "0")


def test_to_ne_binaries():
    assert coerce.to_ne_binaries(MISSING, ["d"]) == ["d"]
    assert coerce.to_ne_binaries("", ["d"]) == ["d"]
    assert coerce.to_ne_binaries([], ["d"]) == ["d"]
    assert coerce.to_ne_binaries("one", ["d"]) == "one"
    assert coerce.to_ne_binaries(["a", "", "0", 5, None], ["d"]) == ["a", "5"]
    for bad in (5, True, None, {"a": 1}):
        with pytest.raises(coerce.BadValue):
            coerce.to_ne_binaries(bad, ["d"])


def test_account_ne_binaries():
    assert coerce.to_account_ne_binaries(["a", "b"], ["d"]) == ["a", "b"]
    assert coerce.to_account_ne_binaries([], ["d"]) == []
    assert coerce.to_account_ne_binaries("a", ["d"]) == ["d"]
    assert coerce.to_account_ne_binaries(["a", ""], ["d"]) == ["d"]


def test_to_boolean():
    assert coerce.to_boolean("true", False) is True
    assert coerce.to_boolean(False, True) is False
    assert coerce.to_boolean(MISSING, True) is True
    with pytest.raises(coerce.BadValue):
        coerce.to_boolean("yes", False)


def test_to_json():
    assert coerce.to_json({"a": 1}, {}) == {"a": 1}
    assert coerce.to_json("x", {"d": 1}) == {"d": 1}
