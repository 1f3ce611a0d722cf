"""Script building and its JSON form."""

from __future__ import annotations

import json

import pytest

from gateway_sim import Script, ScriptError


def test_fluent_script_round_trips_through_json():
    script = (Script(max_duration=30)
              .on_prompt("vm-enter_pass", press="1234#")
              .on_record_start(speak=3.0, press="#")
              .on_prompt("vm-goodbye", hangup=True)
              .on_prompt("vm-*", press="1", barge=True, after=0.5, times=None))
    data = script.to_json()
    assert data == {"max_duration": 30, "steps": [
        {"on": "prompt", "name": "vm-enter_pass", "press": "1234#"},
        {"on": "record_start", "press": "#", "speak": 3.0},
        {"on": "prompt", "name": "vm-goodbye", "hangup": True},
        {"on": "prompt", "name": "vm-*", "press": "1", "after": 0.5, "barge": True, "times": None}]}
    again = Script.loads(json.dumps(data))
    assert again.to_json() == data


def test_a_bare_list_of_steps_is_a_script():
    script = Script.from_json([{"on": "answer", "press": "1"}])
    assert [r.on for r in script.rules] == ["answer"] and script.max_duration is None


@pytest.mark.parametrize("data,message", [
    ({"steps": [{"on": "prompt"}]}, "needs a name"),
    ({"steps": [{"on": "ringing"}]}, "unknown trigger"),
    ({"steps": [{"on": "prompt", "name": "x", "press": "12x"}]}, "cannot press"),
    ({"steps": [{"on": "answer", "speak": 2}]}, "'speak' belongs to record_start"),
    ({"steps": [{"on": "answer", "name": "x"}]}, "belong to prompt steps"),
    ({"steps": [{"on": "prompt", "name": "x", "hangup": "yes"}]}, "'hangup' must be a boolean"),
    ({"steps": [{"on": "prompt", "name": "x", "after": "1"}]}, "number of seconds"),
    ({"steps": [{"on": "prompt", "name": "x", "times": 0}]}, "positive"),
    ({"steps": [{"on": "prompt", "name": "x", "colour": "red"}]}, "unknown key"),
    ({"steps": {}}, "must be a list"),
    ({"steps": [], "max_duration": -1}, "positive"),
    ({"steps": [], "extra": 1}, "unknown script key"),
    ("text", "JSON object"),
])
def test_bad_scripts_are_refused_with_a_reason(data, message):
    with pytest.raises(ScriptError, match=message):
        Script.from_json(data)


def test_parse_takes_inline_json_or_a_file(tmp_path):
    path = tmp_path / "caller.json"
    path.write_text(json.dumps({"steps": [{"on": "prompt", "name": "vm-goodbye", "hangup": True}]}))
    assert Script.parse(str(path)).rules[0].hangup is True
    assert Script.parse(' [{"on": "start", "press": "9"}]').rules[0].press == "9"
    with pytest.raises(ScriptError, match="cannot read"):
        Script.parse(str(tmp_path / "missing.json"))
    with pytest.raises(ScriptError, match="not JSON"):
        Script.parse("{nope")


def test_prompt_names_match_with_wildcards():
    rule = Script().on_prompt("vm-*").rules[0]
    assert rule.matches("vm-enter_pass") and not rule.matches("cf-unauthorized_call")
