"""Pattern selection and captures (callflow.md 2.5) and the RE2 rules of 2.3."""

import logging

import pytest

from services.routing.matcher import (PatternError, PatternSet, collation_key, compile_pattern, erlang_groups,
                                  translate)


def best(rows, number):
    return PatternSet(rows).best(number)


def test_translate_named_groups_only_outside_escapes_and_classes():
    assert translate(r"^\*98(?<box>\d+)$") == r"^\*98(?P<box>\d+)$"
    assert translate(r"\(?<x>") == r"\(?<x>"
    assert translate(r"[(?<]a") == r"[(?<]a"
    assert translate(r"[]?<](?<n>1)") == r"[]?<](?P<n>1)"
    assert translate(r"(?<=a)b") == r"(?<=a)b"


@pytest.mark.parametrize("pattern", ["[invalid", r"(a)\1", r"(?=a)a", r"a++", r"(?<=a)b"])
def test_patterns_re2_refuses_raise(pattern):
    with pytest.raises(PatternError):
        compile_pattern(pattern)


def test_spec_cf_017_longest_group_scores():
    hit = best([(r"^2(\d{3})$", "p1"), (r"^(2\d{3})$", "p2")], "2001")
    assert (hit.callflow_id, hit.capture_group) == ("p2", "2001")


def test_spec_cf_018_group_that_captured_nothing_scores_zero():
    hit = best([(r"^\*98(\d*)$", "p1"), (r"^\*98\d*$", "p2")], "*98")
    assert hit.callflow_id == "p2"
    assert hit.capture_group == "*98"
    only_group = best([(r"^\*98(\d*)$", "p1")], "*98")
    assert only_group.callflow_id == "p1" and only_group.capture_group is None


def test_spec_cf_019_tie_goes_to_the_pattern_sorting_last():
    hit = best([(r"^([0-9]{3}4)$", "p1"), (r"^([0-9]{4})$", "p2")], "1234")
    assert hit.callflow_id == "p2"
    # same input in the other order: the order of the rows does not matter
    hit = best([(r"^([0-9]{4})$", "p2"), (r"^([0-9]{3}4)$", "p1")], "1234")
    assert hit.callflow_id == "p2"


def test_tie_on_one_pattern_goes_to_the_document_id_sorting_last():
    hit = best([(r"^(5\d{3})$", "aaaa"), (r"^(5\d{3})$", "bbbb")], "5000")
    assert hit.callflow_id == "bbbb"


def test_spec_cf_020_patterns_are_unanchored():
    assert best([("55", "x")], "1553").callflow_id == "x"
    assert best([("55", "x")], "1234") is None


def test_spec_cf_021_uncompilable_pattern_is_rejected_with_a_log_line_naming_the_callflow(caplog):
    with caplog.at_level(logging.WARNING, logger="services.routing.matcher"):
        patterns = PatternSet([("[invalid", "bad"), (r"^(3\d{3})$", "good")], account_id="acct")
    assert len(patterns) == 1
    assert patterns.rejected[0][:2] == ("bad", "[invalid")
    assert any("bad" in r.getMessage() and "[invalid" in r.getMessage() for r in caplog.records)
    assert patterns.best("3001").callflow_id == "good"


def test_spec_cf_050_capture_group():
    assert best([(r"^\*98(\d+)$", "x")], "*98123").capture_group == "123"


def test_spec_cf_051_named_captures():
    hit = best([(r"^\*98(?<box>\d+)$", "x")], "*98123")
    assert hit.capture_groups == {"box": "123"}
    assert hit.capture_group == "123"


def test_e164_capture_after_normalisation():
    assert best([(r"^\+1(\d{10})$", "x")], "+14158867900").capture_group == "4158867900"


def test_non_participating_groups_score_zero_instead_of_crashing():
    hit = best([(r"^(a)?b$", "g"), ("^zzz$", "other")], "b")
    assert hit.callflow_id == "g" and hit.capture_group is None
    # a non-grouped match of length 1 beats it
    hit = best([(r"^(a)?b$", "g"), ("b", "plain")], "b")
    assert hit.callflow_id == "plain"


def test_capture_zero_is_empty_in_kazoo_sense():
    hit = best([(r"^\*98(\d)$", "x")], "*980")
    assert hit.callflow_id == "x" and hit.capture_group is None
    hit = best([(r"^\*98(?<d>\d)$", "x")], "*980")
    assert hit.capture_groups == {}


def test_lowest_numbered_of_equally_long_groups():
    assert best([(r"^(\d\d)(\d\d)$", "x")], "1234").capture_group == "12"


def test_trailing_non_participating_groups_are_omitted():
    regex = compile_pattern(r"^(1)?(2)?(3)?$")
    assert erlang_groups(regex.search("2"), regex.groups) == ["", "2"]
    assert erlang_groups(regex.search(""), regex.groups) is None


def test_ascii_digit_class_and_case_sensitivity():
    assert best([(r"^\d+$", "x")], "١٢٣") is None
    assert best([("^abc$", "x")], "ABC") is None


def test_collation_orders_like_couchdb():
    words = ["b", "B", "a", "1", "_", "A", "-", "^x", "$"]
    assert sorted(words, key=collation_key) == ["_", "-", "^x", "$", "1", "a", "A", "b", "B"]
    assert sorted([r"^([0-9]{4})$", r"^([0-9]{3}4)$"], key=collation_key) == [r"^([0-9]{3}4)$", r"^([0-9]{4})$"]


def test_thousand_patterns_pick_the_right_one():
    rows = [(rf"^9{i:04d}(\d+)$", f"cf{i:04d}") for i in range(1000)]
    patterns = PatternSet(rows)
    hit = patterns.best("9042712345")
    assert hit.callflow_id == "cf0427" and hit.capture_group == "12345"
