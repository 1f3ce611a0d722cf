"""The JavaScript semantics the embedded backends reproduce (the CouchDB side of each
view is checked against them by tests/integration/store/test_store_backends.py)."""

import pytest

from services.store import views


@pytest.mark.parametrize("value, truthy", [
    (None, False), (False, False), (0, False), (0.0, False), ("", False), (float("nan"), False),
    (True, True), (1, True), (-1, True), ("false", True), ("0", True), ([], True), ({}, True),
])
def test_js_truthy(value, truthy):
    assert views.js_truthy(value) is truthy


@pytest.mark.parametrize("value, number", [
    ("100", 100), ("0100", 100), ("  42abc", 42), ("-7", -7), ("+8", 8), ("3001.5", 3001),
    (200, 200), (3001.5, 3001), (1e21, 1), (["12", 3], 12),
    ("abc", None), ("", None), ("*", None), (None, None), (True, None), ({}, None), ("0x10", 0),
])
def test_js_parse_int(value, number):
    assert views.js_parse_int(value) == number


def test_js_parse_int_rounds_like_a_double_beyond_2_to_the_53():
    assert views.js_parse_int("9007199254740993") == 9007199254740992


def test_rows_for_emits_per_view():
    doc = {"_id": "cf", "pvt_type": "callflow", "numbers": ["2000", "2000"], "patterns": ["^1$"]}
    rows = views.rows_for(doc)
    assert rows.count(("callflows_by_number", '"2000"', None)) == 2
    assert ("callflow_patterns", '"^1$"', None) in rows


def test_design_doc_carries_every_view_and_the_version():
    design = views.design_doc()
    assert design["_id"] == "_design/kzvoice"
    assert set(design["views"]) == {view.name for view in views.ALL_VIEWS}
    assert design["kzvoice_views_version"] == views.VERSION
