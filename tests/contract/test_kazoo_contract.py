"""Our declarations and schemas against each other and against KAZOO's own schemas.

* every declaration has exactly one schema file and every schema file a
  declaration; the schema says what the declaration says;
* every message family of bus.md section 3 is declared;
* a realistic example of every message (``examples.py``) passes our schema
  and KAZOO's schema of the same message, except for the mismatches the spec
  lists (bus.md section 7, config.md 4.7).  Those are tolerated by an explicit
  table, only at their exact field, and every entry must still be needed;
* KAZOO's schema of a message is found from KAZOO's schemas themselves (their
  ``Event-Category``, ``Event-Name`` and ``Application-Name`` enums), so a
  message declared later (the ``kapi.media.*`` ones, say) is checked as soon as
  it is declared, and its declaration must name that schema; the messages
  KAZOO has no schema for are listed exactly;
* every field KAZOO requires we require too, ``Msg-ID`` included: only the
  envelope fields the publisher fills correctly by itself are left out.

KAZOO's schemas are reference data beside the repository
(``kazoo-schemas`` of ``testkit.shared``); without them the KAZOO half fails.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass

import pytest

from services.messages import catalogue
from services.exchanges import TARGETED
from services.messages.spec import DEFAULT_HEADERS, MessageSpec, to_destination
from services.messages.validation import Validator, default_schema_dir
from testkit.shared import kazoo_api_validators, kazoo_schemas
from tests.contract.examples import EXAMPLES, build

OUR_SCHEMAS = default_schema_dir() / "messages"

SPECS = sorted(catalogue.all_specs(), key=lambda s: s.key)
SPEC_KEYS = [s.key for s in SPECS]

# Every message of bus.md section 3, family by family.
EXPECTED_FAMILIES: dict[str, set[str]] = {
    "3.1-3.3 routing": {"route.req", "route.resp", "route.win"},
    "3.4 call commands": {f"command.{app}" for app in (
        "answer", "hangup", "play", "tts", "say", "tones", "record", "play_and_collect_digits", "noop", "sleep",
        "set", "break", "playstop", "playseek", "store", "store_vm", "queue")},
    "3.5 call events": {f"call_event.{name}" for name in (
        "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "DTMF", "RECORD_START",
        "RECORD_STOP", "CHANNEL_DESTROY")},
    "3.6 dialplan error": {"error.dialplan"},
    "3.7 usurp_control": {"call_event.usurp_control"},
    "3.8 remote callflow actions": {"callflow.action.execute", "callflow.action.accepted",
                                    "callflow.action.result", "callflow.resume"},
    "3.9 presence": {"presence.mwi_update", "presence.mwi_unsolicited_update", "presence.mwi_query"},
    "3.10 sysconf": {f"sysconf.{name}" for name in ("get_req", "get_resp", "set_req", "set_resp", "flush_req")},
    "3.11 configuration": {f"configuration.{name}" for name in (
        "doc_created", "doc_edited", "doc_deleted", "db_created", "db_edited", "db_deleted", "db_views_updated",
        "doc_type_update")},
    "3.12 switch": {"switch_event.command", "switch_event.reply"},
    "3.13 notifications": {f"notification.{name}" for name in (
        "voicemail_new", "voicemail_saved", "voicemail_full", "voicemail_deleted", "notify_update")},
    "media.md 3 media": {"media.media_req", "media.media_resp", "media.media_error"},
}

# Messages KAZOO publishes no schema for (its schema folder has none of these).  A test asserts
# this exact set and prints it: a schema added to the folder, or a message declared, updates it.
WITHOUT_KAZOO_SCHEMA = {"call_event.usurp_control", "switch_event.command", "switch_event.reply"}

# KAZOO schemas whose enums would match a message they do not describe.
NOT_DESCRIBED_BY: dict[tuple[str, str], str] = {
    ("call_event.usurp_control", "kapi.call.event.json"):
        "the generic call-event schema (any Event-Name) is for channel events; usurp_control is "
        "an API of its own in kapi_call with no schema",
}

# Envelope fields the publisher fills by itself, correctly, when a message is built (bus.md 2.2);
# Msg-ID is not one of them for a reply, which must carry its request's.
FILLED_BY_PUBLISHER = {"Event-Category", "Event-Name", "App-Name", "App-Version", "Node"}


def _enum(schema: dict, field: str) -> list | None:
    return ((schema.get("properties") or {}).get(field) or {}).get("enum")


def _breadth(schema: dict, field: str) -> float:
    """How many values a schema admits for ``field``; without an enum, any."""
    values = _enum(schema, field)
    return len(values) if values is not None else math.inf


def kazoo_message_schemas() -> dict[str, dict]:
    """KAZOO's message schemas (those that name an Event-Category), by file name."""
    found = {}
    for path in sorted(kazoo_schemas().glob("kapi.*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if _enum(schema, "Event-Category"):
            found[path.name] = schema
    return found


def kazoo_candidates(spec, schemas: dict[str, dict]) -> list[str]:
    """KAZOO schemas whose enums admit this message, most specific first."""
    app = spec.values.get("Application-Name")
    found = []
    for name, schema in schemas.items():
        names, apps = _enum(schema, "Event-Name"), _enum(schema, "Application-Name")
        if spec.category not in _enum(schema, "Event-Category"):
            continue
        if names is not None and spec.name not in names:
            continue
        if app is not None and apps is not None and app not in apps:
            continue
        if app is None and apps is not None:
            continue
        if (spec.key, name) in NOT_DESCRIBED_BY:
            continue
        found.append(name)
    return sorted(found, key=lambda n: (_breadth(schemas[n], "Event-Name"),
                                        _breadth(schemas[n], "Application-Name"), n))


KAZOO_MESSAGE_SCHEMAS = kazoo_message_schemas()
CANDIDATES = {s.key: kazoo_candidates(s, KAZOO_MESSAGE_SCHEMAS) for s in SPECS}


def kazoo_schema_of(spec) -> str | None:
    """The KAZOO schema a message is checked against: the declared one, else the one found."""
    return spec.kazoo_schema or (CANDIDATES[spec.key] or [None])[0]


CHECKED_KEYS = [s.key for s in SPECS if kazoo_schema_of(s)]


@dataclass(frozen=True)
class Tolerance:
    keyword: str   # the failing JSON-schema keyword at that field
    source: str    # where the spec lists the mismatch
    reason: str


# (KAZOO schema file, field path with ``*`` for array indices) -> why KAZOO's schema is wrong there.
TOLERATED: dict[tuple[str, str], Tolerance] = {
    ("kapi.dialplan.record.json", "Time-Limit"):
        Tolerance("type", "bus.md 7.1", "schema says integer; KAZOO's record command sends a decimal string"),
    ("kapi.dialplan.play_and_collect_digits.json", "Minimum-Digits"):
        Tolerance("type", "bus.md 7.1", "schema says string; the code sends an integer"),
    ("kapi.dialplan.play_and_collect_digits.json", "Maximum-Digits"):
        Tolerance("type", "bus.md 7.1", "schema says string; the code sends an integer"),
    ("kapi.dialplan.play_and_collect_digits.json", "Timeout"):
        Tolerance("type", "bus.md 7.1", "schema says string; the code sends an integer"),
    ("kapi.dialplan.play_and_collect_digits.json", "Media-Tries"):
        Tolerance("type", "bus.md 7.1", "schema says string; the code sends an integer"),
    ("kapi.dialplan.noop.json", "Filter-Applications"):
        Tolerance("type", "bus.md 7.2", "schema says string; the gateway expects an array"),
    ("kapi.call.event.json", "Timestamp"):
        Tolerance("type", "bus.md 7.3", "schema says string; mod_kazoo sends a number"),
    ("kapi.dialplan.queue.json", "Commands/*"):
        Tolerance("type", "bus.md 7.7", "schema says the items are strings; they are command objects"),
    ("kapi.dialplan.tones.json", "Tones/*/Frequencies"):
        Tolerance("type", "bus.md 7.7", "schema says a string; it is an array of strings"),
    ("kapi.callflow.action.execute.json", "Data"):
        Tolerance("type", "bus.md 7.7", "schema says a string; it is the flow node's data object"),
    ("kapi.dialplan.error.json", "Request"):
        Tolerance("type", "bus.md 7.7", "schema says a string; it is the failed command, an object"),
    ("kapi.call.event.json", "Recording"):
        Tolerance("type", "bus.md 7.7", "schema says a string; it is an object"),
    ("kapi.call.event.json", "Silence-Terminated"):
        Tolerance("type", "bus.md 7.7", "schema says a string; it is a boolean"),
    ("kapi.call.event.json", "Media-Recordings"):
        Tolerance("type", "bus.md 7.7", "schema says a string; it is an array"),
    ("kapi.call.event.json", "DTMF-Duration"):
        Tolerance("type", "bus.md 7.7", "schema says a string; it is sent as a number"),
    ("kapi.notifications.voicemail_new.json", "Voicemail-Timestamp"):
        Tolerance("type", "bus.md 7.7", "schema says string; the timestamp is an integer"),
    ("kapi.notifications.voicemail_new.json", "Voicemail-Length"):
        Tolerance("type", "bus.md 7.7", "schema says string; the length is an integer"),
    ("kapi.notifications.voicemail_saved.json", "Voicemail-Timestamp"):
        Tolerance("type", "bus.md 7.7", "schema says string; the timestamp is an integer"),
    ("kapi.notifications.voicemail_saved.json", "Voicemail-Length"):
        Tolerance("type", "bus.md 7.7", "schema says string; the length is an integer"),
    ("kapi.notifications.voicemail_full.json", "Max-Message-Count"):
        Tolerance("type", "bus.md 7.7", "schema says string; the count is an integer"),
    ("kapi.notifications.voicemail_full.json", "Message-Count"):
        Tolerance("type", "bus.md 7.7", "schema says string; the count is an integer"),
    ("kapi.dialplan.playseek.json", "Duration"):
        Tolerance("type", "bus.md 7.7", "schema says a string; it is an integer"),
    # config.md 4.7 (authoritative for sysconf and doc_update, bus.md 3.10): only required fields and
    # event names are to be checked against kapi.sysconf.*; Key may be an array, Value/Default any JSON.
    ("kapi.sysconf.get_req.json", "Key"): Tolerance("type", "config.md 4.7", "Key may be an array (a path)"),
    ("kapi.sysconf.get_req.json", "Default"): Tolerance("type", "config.md 4.7", "Default is any JSON"),
    ("kapi.sysconf.get_resp.json", "Key"): Tolerance("type", "config.md 4.7", "Key may be an array (a path)"),
    ("kapi.sysconf.get_resp.json", "Value"): Tolerance("type", "config.md 4.7", "Value is any JSON"),
    ("kapi.sysconf.set_req.json", "Key"): Tolerance("type", "config.md 4.7", "Key may be an array (a path)"),
    ("kapi.sysconf.set_req.json", "Value"): Tolerance("type", "config.md 4.7", "Value is any JSON"),
    ("kapi.sysconf.set_req.json", "Node-Specific"):
        Tolerance("type", "config.md 4.7", "Node-Specific may be a boolean"),
    ("kapi.sysconf.set_resp.json", "Key"): Tolerance("type", "config.md 4.7", "Key may be an array (a path)"),
    ("kapi.sysconf.set_resp.json", "Value"): Tolerance("type", "config.md 4.7", "Value is any JSON"),
    ("kapi.conf.doc_update.json", "Date-Created"):
        Tolerance("type", "config.md 4.7", "schema says string; Gregorian seconds are sent as integers"),
    ("kapi.conf.doc_update.json", "Date-Modified"):
        Tolerance("type", "config.md 4.7", "schema says string; Gregorian seconds are sent as integers"),
    ("kapi.conf.doc_update.json", "Event-Name"):
        Tolerance("enum", "config.md 4.7", "the schema's Event-Name enum lacks db_views_updated"),
    # Not in the spec's lists: KAZOO's resume schema types Flow as a string, but bus.md 3.8.8 says Flow
    # is a flow node object (as action.execute's Data, which bus.md 7.7 does list).  Reported upstream.
    ("kapi.callflow.resume.json", "Flow"):
        Tolerance("type", "gap: not listed in bus.md 7", "schema says a string; bus.md 3.8.8 says a flow object"),
}


def _json_path(parts) -> str:
    return "/".join("*" if isinstance(p, int) else str(p) for p in parts)


# ---- declarations and our schema files --------------------------------------------

def test_declaration_keys_and_selectors_are_unique():
    keys = [s.key for s in catalogue.all_specs()]
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    selectors = [s.selector() for s in catalogue.all_specs()]
    assert [k for k, n in Counter(selectors).items() if n > 1] == []


def test_every_family_of_bus_md_section_3_is_declared():
    expected = set().union(*EXPECTED_FAMILIES.values())
    declared = set(SPEC_KEYS)
    assert sorted(expected - declared) == [], "declarations missing"
    assert sorted(declared - expected) == [], "declared but not listed here: add them to EXPECTED_FAMILIES"


def test_every_declaration_has_one_schema_file_and_every_file_a_declaration():
    schemas = [s.schema for s in catalogue.all_specs()]
    assert all(schemas), "a declaration without schema"
    assert [k for k, n in Counter(schemas).items() if n > 1] == [], "two declarations share a schema file"
    files = {p.name for p in OUR_SCHEMAS.glob("*.json")}
    assert sorted(set(schemas) - files) == [], "schema files missing"
    assert sorted(files - set(schemas)) == [], "schema files without a declaration"


@pytest.mark.parametrize("key", SPEC_KEYS)
def test_schema_says_what_the_declaration_says(key):
    spec = catalogue.get(key)
    schema = json.loads((OUR_SCHEMAS / spec.schema).read_text(encoding="utf-8"))
    assert schema["$schema"] in ("http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-04/schema#")
    assert schema["type"] == "object"
    assert schema.get("additionalProperties", True) is not False, "KAZOO validators accept extra keys"
    assert set(schema["required"]) == set(DEFAULT_HEADERS) | set(spec.required)
    props = schema["properties"]
    assert props["Event-Category"] == {"const": spec.category}
    assert props["Event-Name"] == {"const": spec.name}
    for field, value in spec.values.items():
        fixed = props[field]
        assert fixed.get("const") == value or fixed.get("enum") == [value, ""], field
    missing = [f for f in (*spec.required, *spec.optional) if f not in props]
    assert missing == [], "fields of the declaration without a type in the schema"


def test_all_schemas_compile():
    assert Validator().compile_all() == len(SPECS)


# ---- examples against our schemas ------------------------------------------------------

def test_every_declaration_has_an_example():
    assert sorted(set(SPEC_KEYS) - set(EXAMPLES)) == []
    assert sorted(set(EXAMPLES) - set(SPEC_KEYS)) == []


@pytest.fixture(scope="module")
def validator() -> Validator:
    v = Validator()
    v.compile_all()
    return v


@pytest.mark.parametrize("key", SPEC_KEYS)
def test_example_is_valid_and_identified(key, validator):
    body = build(key)
    message = validator.parse(body)
    assert message.spec.key == key
    spec = catalogue.get(key)
    routing_key = spec.routing_key(body, "some_queue" if spec.routing_key is to_destination else None)
    assert routing_key and " " not in routing_key


# ---- examples against KAZOO's schemas --------------------------------------------------

@pytest.fixture(scope="module")
def kazoo_validators():
    return kazoo_api_validators()


def test_kazoo_schema_names_exist(kazoo_validators):
    named = {s.kazoo_schema for s in SPECS if s.kazoo_schema}
    assert sorted(named - set(kazoo_validators)) == []


def test_every_declaration_names_the_kazoo_schema_of_its_message(kazoo_validators):
    """A message KAZOO has a schema for names it (one of them, where KAZOO has two); one whose
    schema no enum admits may still name it (db_views_updated, config.md 4.7)."""
    wrong = {s.key: (s.kazoo_schema, CANDIDATES[s.key]) for s in SPECS
             if CANDIDATES[s.key] and s.kazoo_schema not in CANDIDATES[s.key]}
    assert wrong == {}, "declared kazoo_schema vs KAZOO's schemas that describe the message"


def test_messages_without_a_kazoo_schema_are_exactly_the_known_ones(kazoo_validators):
    without = sorted(s.key for s in SPECS if kazoo_schema_of(s) is None)
    print("declared messages KAZOO has no schema for:", ", ".join(without))
    assert set(without) == WITHOUT_KAZOO_SCHEMA
    assert all(key in SPEC_KEYS for key, _ in NOT_DESCRIBED_BY)


@pytest.mark.parametrize("key", CHECKED_KEYS)
def test_kazoo_required_fields_are_required_by_us_too(key, kazoo_validators):
    spec = catalogue.get(key)
    kazoo_required = set(kazoo_validators[kazoo_schema_of(spec)].schema.get("required", ()))
    assert sorted(kazoo_required - FILLED_BY_PUBLISHER - set(spec.required)) == []


def test_examples_pass_kazoo_schemas_except_the_listed_mismatches(kazoo_validators):
    unexpected: list[str] = []
    used: set[tuple[str, str]] = set()
    for spec in SPECS:
        kazoo_schema = kazoo_schema_of(spec)
        if kazoo_schema is None:
            continue
        for error in kazoo_validators[kazoo_schema].iter_errors(build(spec.key)):
            where = (kazoo_schema, _json_path(error.absolute_path))
            tolerance = TOLERATED.get(where)
            if tolerance is not None and tolerance.keyword == error.validator:
                used.add(where)
                continue
            unexpected.append(f"{spec.key} vs {where[0]} at {where[1] or '(top)'}: {error.message}")
    assert unexpected == [], "mismatches with KAZOO's schemas that the spec does not list"
    stale = sorted(set(TOLERATED) - used)
    assert stale == [], "tolerated mismatches that no example exercises (stale entries)"


@pytest.mark.parametrize("name", ["media_req", "media_resp", "media_error"])
def test_media_messages_are_checked_as_soon_as_they_are_declared(name, kazoo_validators):
    """media.md's messages are not declared yet; once they are, KAZOO's kapi.media.* schemas are
    found for them by the same rule as for every other message (and the tests above then cover
    them and want their declaration to name the schema)."""
    spec = MessageSpec(key=f"media.{name}", category="media", name=name, exchange=TARGETED,
                       routing_key=to_destination)
    assert kazoo_candidates(spec, KAZOO_MESSAGE_SCHEMAS) == [f"kapi.media.{name}.json"]
