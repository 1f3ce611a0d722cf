"""Exchange declarations and routing keys (bus.md section 1)."""

import pytest

from services import exchanges as x


def test_exchange_set_names_types_and_flags():
    expected = {"callmgr": "topic", "targeted": "direct", "callctl": "direct", "callevt": "topic",
                "kapps": "topic", "presence": "topic", "sysconf": "topic", "configuration": "topic",
                "switch": "topic", "notifications": "topic"}
    assert {name: ex.type for name, ex in x.EXCHANGES.items()} == expected
    for ex in x.EXCHANGES.values():
        assert (ex.durable, ex.auto_delete, ex.internal) == (False, False, False)


@pytest.mark.parametrize("word, encoded", [
    ("abc@1.2.3.4", "abc%401%2E2%2E3%2E4"),      # bus.md 1.4 examples
    ("example.com", "example%2Ecom"),
    ("*97", "%2A97"),
    ("a b", "a+b"),
    ("keep-~_AZaz09", "keep-~_AZaz09"),
    ("*", "*"),
    ("#", "#"),
    ("é", "%C3%A9"),
    ("a/b:c", "a%2Fb%3Ac"),
])
def test_encode_word(word, encoded):
    assert x.encode_word(word) == encoded


def test_pid_address_splits_at_last_slash():
    assert x.split_address("pid://<0.123.0>/gw-ctl-7f3a") == ("gw-ctl-7f3a", "<0.123.0>")
    assert x.split_address("pid://a/b/c") == ("c", "a/b")
    assert x.split_address("callflow_route_1") == ("callflow_route_1", None)


def test_routing_keys():
    assert x.route_req_key("audio", account_id="4fe69c5b61015084f1fe5684abc6e502") == \
        "route.req.audio.4fe69c5b61015084f1fe5684abc6e502"
    assert x.route_req_key("audio", realm="acme.example.com", user="356") == "route.req.audio.acme%2Eexample%2Ecom.356"
    assert x.call_event_key("DTMF", "abc@1.2.3.4") == "call.DTMF.abc%401%2E2%2E3%2E4"
    assert x.call_events_binding("abc@1.2.3.4") == "call.*.abc%401%2E2%2E3%2E4"
    assert x.mwi_update_key("1000@acme.example.com") == "mwi_updates.acme%2Eexample%2Ecom.1000"
    assert x.mwi_query_key("acme.example.com") == "mwi_queries.acme%2Eexample%2Ecom"
    assert x.switch_command_key("fs@gw.sim") == "switch.command.fs%40gw%2Esim"
    assert x.switch_command_key(None) == "switch.command.*"
    assert x.notification_key("voicemail_new") == "notifications.voicemail.new"
    # the account database name is not re-encoded; the id is
    assert x.doc_update_key("edited", "account%2F4f%2Fe6%2F9c5b", "callflow", "cf.1") == \
        "doc_edited.account%2F4f%2Fe6%2F9c5b.callflow.cf%2E1"


def test_doc_binding_all_wildcards_becomes_hash():
    assert x.doc_binding() == "#"
    assert x.doc_binding(doc_type="callflow") == "*.*.callflow.*"
    assert x.doc_binding(database="system_config") == "*.system_config.*.*"


@pytest.mark.parametrize("pattern, key, matches", [
    ("call.*.abc", "call.DTMF.abc", True),
    ("call.*.abc", "call.DTMF.abd", False),
    ("call.*.abc", "call.DTMF.x.abc", False),
    ("call.#", "call", True),
    ("call.#", "call.a.b.c", True),
    ("#", "anything.at.all", True),
    ("#.abc", "x.y.abc", True),
    ("a.#.z", "a.z", True),
    ("a.#.z", "a.b.c.z", True),
    ("a.#.z", "a.b.c", False),
    ("*.*.callflow.*", "doc_edited.account%2Fab.callflow.id1", True),
    ("route.req.audio.*", "route.req.audio.acct", True),
    ("route.req.audio.*", "route.req.video.acct", False),
])
def test_topic_matching(pattern, key, matches):
    assert x.topic_matches(pattern, key) is matches
