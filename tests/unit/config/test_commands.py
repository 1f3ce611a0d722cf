"""config_svc.commands (kzvoice config): argument parsing, the VALUE rule and the requests built."""

import argparse

import pytest

from config_svc import commands


def parse(*argv):
    parser = argparse.ArgumentParser(prog="kzvoice")
    commands.register(parser.add_subparsers())
    return parser.parse_args(["config", *argv])


@pytest.mark.parametrize("text, expected", [("50", 50), ("true", True), ('{"a":1}', {"a": 1}), ("null", None),
                                            ("*98", "*98"), ("hello world", "hello world"), ('"quoted"', "quoted"),
                                            ("2.5", 2.5)])
def test_value_is_json_when_it_parses(text, expected):
    assert commands.parse_value(text) == expected


@pytest.mark.parametrize("text", ['{"a":', "[1,", '"unterminated'])
def test_value_that_looks_like_json_must_parse(text):
    with pytest.raises(commands.CommandError) as caught:
        commands.parse_value(text)
    assert caught.value.code == commands.EXIT_USAGE


def test_string_and_json_flags():
    assert commands.parse_value("50", force_string=True) == "50"
    with pytest.raises(commands.CommandError):
        commands.parse_value("*98", force_json=True)


def test_set_default_request_matches_sup():
    spec, fields = commands.build_request(parse("set-default", "callflow", "dialog_subscribed_mwi_prefix", "*98"))
    assert spec == "sysconf.set_req"
    assert fields == {"Category": "callflow", "Key": "dialog_subscribed_mwi_prefix", "Value": "*98"}


def test_dotted_key_becomes_a_path_unless_literal():
    _, fields = commands.build_request(parse("set", "callflow", "voicemail.max_message_count", "50"))
    assert fields["Key"] == ["voicemail", "max_message_count"] and fields["Value"] == 50
    _, fields = commands.build_request(parse("set", "c", "a.b", "1", "--literal-key"))
    assert fields["Key"] == "a.b"


def test_set_node_and_account():
    _, fields = commands.build_request(parse("set-node", "c", "k", "1", "--node", "svc@h1"))
    assert fields["Node-Specific"] is True and fields["Node"] == "svc@h1"
    _, fields = commands.build_request(parse("set", "c", "k", "1", "--account",
                                             "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"))
    assert fields["Account-ID"] == "4fe69c5b61015084f1fe5684abc6e502"


def test_get_request():
    spec, fields = commands.build_request(parse("get", "c", "k", "--default", "7"))
    assert spec == "sysconf.get_req" and fields == {"Category": "c", "Key": "k", "Default": 7, "Node": "default"}
    with pytest.raises(commands.CommandError):
        commands.build_request(parse("get", "c", "k", "--strategy", "account"))


def test_flush_request():
    assert commands.build_request(parse("flush", "callflow")) == ("sysconf.flush_req", {"Category": "callflow"})


def test_malformed_account():
    with pytest.raises(commands.CommandError) as caught:
        commands.build_request(parse("set", "c", "k", "1", "--account", "nope"))
    assert "unknown account" in str(caught.value)


def test_empty_value_is_refused():
    for argv in (("set", "c", "k", ""), ("set", "c", "k", '""'), ("set", "c", "k", "", "--string")):
        with pytest.raises(commands.CommandError) as caught:
            commands.build_request(parse(*argv))
        assert caught.value.code == commands.EXIT_USAGE and "null" in str(caught.value)
