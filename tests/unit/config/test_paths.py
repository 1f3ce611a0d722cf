"""services.config.paths: keys, lookups, writes and the hierarchy merge (config.md 1.5, 2.3)."""

import pytest

from services.config.paths import (MISSING, InvalidKey, get_path, merge_recursive, public, set_path, split_dotted,
                                   to_path, to_wire_key)


def test_string_key_is_literal_and_list_is_a_path():
    assert to_path("voicemail.max_message_count") == ("voicemail.max_message_count",)
    assert to_path(["voicemail", "max_message_count"]) == ("voicemail", "max_message_count")
    assert to_wire_key(("a",)) == "a" and to_wire_key(("a", "b")) == ["a", "b"]


@pytest.mark.parametrize("bad", ["", [], [""], ["a", 1], 5, None, {"a": 1}])
def test_bad_keys(bad):
    with pytest.raises(InvalidKey):
        to_path(bad)


def test_split_dotted_like_sup():
    assert split_dotted("voicemail.max_message_count") == ("voicemail", "max_message_count")
    assert split_dotted("k") == ("k",)
    with pytest.raises(InvalidKey):
        split_dotted("a..b")


def test_lookup_missing_vs_present_falsy_values():
    doc = {"f": False, "z": 0, "e": "", "l": [], "o": {}, "n": None, "s": "text"}
    for key in ("f", "z", "e", "l", "o", "n"):
        assert get_path(doc, (key,)) is not MISSING
    assert get_path(doc, ("absent",)) is MISSING
    assert get_path(None, ("a",)) is MISSING


def test_non_object_on_the_way_is_missing():
    assert get_path({"voicemail": "mp3"}, ("voicemail", "extension")) is MISSING
    assert get_path({"voicemail": ["x"]}, ("voicemail", "0")) is MISSING


def test_set_creates_intermediates_and_keeps_siblings():
    doc = {"default": {"voicemail": {"extension": "mp3"}}}
    set_path(doc, ("default", "voicemail", "max_message_count"), 50)
    set_path(doc, ("default", "new", "deep"), 1)
    assert doc == {"default": {"voicemail": {"extension": "mp3", "max_message_count": 50}, "new": {"deep": 1}}}


def test_set_replaces_a_non_object_on_the_way():
    doc = {"default": {"voicemail": "mp3"}}
    set_path(doc, ("default", "voicemail", "extension"), "wav")
    assert doc == {"default": {"voicemail": {"extension": "wav"}}}


def test_set_null_deletes_and_deleting_absent_changes_nothing():
    doc = {"default": {"k": 1, "j": 2}}
    set_path(doc, ("default", "k"), None)
    assert doc == {"default": {"j": 2}}
    set_path(doc, ("default", "nothing", "here"), None)
    assert doc == {"default": {"j": 2}}


def test_public_drops_private_fields():
    assert public({"_id": "x", "_rev": "1-a", "pvt_type": "config", "default": {}}) == {"default": {}}


def test_merge_precedence_and_nesting():
    system = {"o": {"x": 1, "y": 1}, "list": [1, 2], "s": "system"}
    reseller = {"o": {"y": 2, "z": 2}, "list": [3], "pvt_type": "account_config"}
    account = {"o": {"z": 3}, "_id": "configs_c"}
    assert merge_recursive([system, reseller, account]) == {"o": {"x": 1, "y": 2, "z": 3}, "list": [3], "s": "system"}


def test_merge_null_removes_and_empty_object_adds_nothing():
    lower = {"o": {"a": 1, "b": 2}, "keep": {"x": 1}, "gone": 5}
    higher = {"o": {"a": None}, "keep": {}, "gone": None, "absent": {}}
    assert merge_recursive([lower, higher]) == {"o": {"b": 2}, "keep": {"x": 1}}


def test_merge_does_not_alias_inputs():
    lower = {"o": {"a": [1]}}
    merged = merge_recursive([lower])
    merged["o"]["a"].append(2)
    assert lower == {"o": {"a": [1]}}
