"""k8s/rabbitmq/definitions.json against the code: every queue a service declares and every
exchange it touches is within its user's permissions, and nothing else is.

The queue names are read from the source (``unique_queue_name("…")``, ``reply_queue("…")``
and queue-name constants), so a new queue without a permission fails here before it fails
in a cluster. The same file on the real broker: tests/integration/k8s/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.bus import unique_queue_name
from services.exchanges import EXCHANGES, SYSCONF_FLUSH_KEY, SYSCONF_GET_KEY, SYSCONF_SET_KEY
from tests.unit.k8s.manifests import K8S, REPO

DEFINITIONS = json.loads((K8S / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
PERMS = {p["user"]: p for p in DEFINITIONS["permissions"]}
TOPIC = {(t["user"], t["exchange"]): t for t in DEFINITIONS["topic_permissions"]}
SERVICES = ("kzvoice-callflow", "kzvoice-voicemail", "kzvoice-config")
OPERATOR = "kzvoice-operator"
# source files -> the broker users whose processes run that code
OWNERS = {
    "callflow_svc": ("kzvoice-callflow",),
    "voicemail_svc": ("kzvoice-voicemail",),
    "config_svc": ("kzvoice-config",),
    "services/config/client.py": ("kzvoice-callflow", "kzvoice-voicemail"),   # the config client
    "services/media/responder.py": ("kzvoice-voicemail",),                    # hosted by voicemail_svc
    "config_svc/commands.py": (OPERATOR,),                                    # kzvoice config …
}


def allows(user: str, kind: str, name: str) -> bool:
    return re.search(PERMS[user][kind], name) is not None


def declared_queues() -> list[tuple[str, str, str]]:
    """(owner path, queue name, how it was found) for every queue the code names."""
    found = []
    call = re.compile(r"(unique_queue_name|reply_queue)\(\s*\"([^\"]+)\"([^)\n]*)")
    constant = re.compile(r"^(?:[A-Z_]*QUEUE)\s*=\s*\"([^\"]+)\"", re.M)
    files_of_their_own = {REPO / owner for owner in OWNERS if (REPO / owner).is_file()}
    for owner in OWNERS:
        path = REPO / owner
        for source in ([path] if path.is_file() else sorted(set(path.rglob("*.py")) - files_of_their_own)):
            text = source.read_text(encoding="utf-8")
            for _fn, prefix, rest in call.findall(text):
                if "name=" not in rest:         # an explicit name= is checked below
                    found.append((owner, unique_queue_name(prefix), f"{source.relative_to(REPO)}: {prefix}"))
            for name in constant.findall(text):
                found.append((owner, name, f"{source.relative_to(REPO)}: constant"))
    from callflow_svc.app import route_queue_name
    found.append(("callflow_svc", route_queue_name(), "callflow_svc/app.py: route_queue_name()"))
    return found


def test_the_file_is_what_rabbitmq_imports():
    assert {u["name"] for u in DEFINITIONS["users"]} == set(SERVICES) | {OPERATOR}
    for user in DEFINITIONS["users"]:
        assert user["tags"] == [], f"{user['name']} needs no management tags"
        assert user["password_hash"] == "", "passwords are filled in by k8s/tools/kzvoice_secrets.py"
    assert [v["name"] for v in DEFINITIONS["vhosts"]] == ["/"]
    assert set(PERMS) == {u["name"] for u in DEFINITIONS["users"]}
    for p in DEFINITIONS["permissions"] + DEFINITIONS["topic_permissions"]:
        assert p["vhost"] == "/"
        for kind in ("configure", "write", "read"):
            if kind in p:
                re.compile(p[kind])
                assert p[kind].startswith("^") and p[kind].endswith("$"), f"{p['user']} {kind} is not anchored"


def test_queues_the_code_declares_are_allowed_to_their_owner_only():
    queues = declared_queues()
    assert len(queues) >= 9
    for owner, name, where in queues:
        for user in PERMS:
            mine = user in OWNERS[owner]
            for kind in ("configure", "write", "read"):
                assert allows(user, kind, name) == mine, (
                    f"{where}: queue {name!r} {'not ' if mine else ''}{kind}-able by {user}")


@pytest.mark.parametrize("user", list(PERMS))
def test_everyone_may_declare_kazoos_exchanges(user):
    # Bus.start declares all ten exchanges with KAZOO's flags, whoever connects
    for exchange in EXCHANGES:
        assert allows(user, "configure", exchange), f"{user} cannot declare {exchange}"


def test_who_publishes_where():
    publishes = {
        "kzvoice-callflow": {"targeted", "callctl", "kapps", "sysconf"},
        "kzvoice-voicemail": {"targeted", "callctl", "presence", "switch", "notifications", "sysconf"},
        "kzvoice-config": {"targeted", "configuration"},
        OPERATOR: {"sysconf"},
    }
    for user, exchanges in publishes.items():
        assert {x for x in EXCHANGES if allows(user, "write", x)} == exchanges, user
    # nobody of ours forges route requests; only config_svc announces document changes
    assert not any(allows(u, "write", "callmgr") for u in PERMS)
    assert [u for u in PERMS if allows(u, "write", "configuration")] == ["kzvoice-config"]


def test_who_binds_where():
    binds = {
        "kzvoice-callflow": {"callmgr", "targeted", "callevt", "configuration", "sysconf"},
        "kzvoice-voicemail": {"kapps", "targeted", "callevt", "presence", "configuration", "sysconf"},
        "kzvoice-config": {"sysconf"},
        OPERATOR: {"targeted"},
    }
    for user, exchanges in binds.items():
        assert {x for x in EXCHANGES if allows(user, "read", x)} == exchanges, user


def test_only_the_operator_may_publish_a_config_set():
    for user in PERMS:
        topic = TOPIC[(user, "sysconf")]
        may_set = re.search(topic["write"], SYSCONF_SET_KEY) is not None and allows(user, "write", "sysconf")
        assert may_set == (user == OPERATOR), user
    for user in ("kzvoice-callflow", "kzvoice-voicemail"):
        topic = TOPIC[(user, "sysconf")]
        assert re.search(topic["write"], SYSCONF_GET_KEY)          # their config client asks
        assert not re.search(topic["write"], SYSCONF_FLUSH_KEY)    # flushes are the operator's
        assert re.search(topic["read"], SYSCONF_FLUSH_KEY)         # ...and heard by the config client
        assert not re.search(topic["read"], SYSCONF_SET_KEY)
    config = TOPIC[("kzvoice-config", "sysconf")]
    assert all(re.search(config["read"], k) for k in (SYSCONF_GET_KEY, SYSCONF_SET_KEY, SYSCONF_FLUSH_KEY))
    operator = TOPIC[(OPERATOR, "sysconf")]
    assert all(re.search(operator["write"], k) for k in (SYSCONF_GET_KEY, SYSCONF_SET_KEY, SYSCONF_FLUSH_KEY))
