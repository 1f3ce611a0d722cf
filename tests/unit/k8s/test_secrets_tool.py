"""k8s/tools/kzvoice_secrets.py: the Secrets the manifests refer to, valid for Kubernetes, one broker
user per service. That RabbitMQ accepts its password hashes is shown on the real broker
(tests/integration/k8s/test_definitions_import.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.parse
from contextlib import redirect_stdout

import kubernetes_validate

from services.settings import Settings
from tests.unit.k8s.secrets_tool import load

DEFINITIONS_USERS = {"kzvoice-callflow", "kzvoice-voicemail", "kzvoice-config", "kzvoice-operator"}


def by_name(listing):
    return {item["metadata"]["name"]: item for item in listing["items"]}


def test_secrets_are_valid_kubernetes_objects():
    listing = load().build(namespace="kzvoice")
    assert listing["kind"] == "List"
    for item in listing["items"]:
        kubernetes_validate.validate(item, "1.28.0", strict=True)
        assert item["metadata"]["namespace"] == "kzvoice"


def test_each_service_gets_its_own_broker_user():
    secrets = by_name(load().build(namespace=None))
    users = {}
    for name in ("kzvoice-callflow", "kzvoice-voicemail", "kzvoice-config", "kzvoice-operator"):
        url = urllib.parse.urlsplit(secrets[name]["stringData"]["KZ_AMQP_URL"])
        assert (url.scheme, url.hostname, url.port, url.path) == ("amqp", "rabbitmq", 5672, "/%2F")
        users[name] = urllib.parse.unquote(url.username)
        Settings.from_env(secrets[name]["stringData"])        # what the pod will parse
    assert users == {n: n for n in users} and set(users.values()) == DEFINITIONS_USERS
    passwords = {urllib.parse.urlsplit(s["stringData"]["KZ_AMQP_URL"]).password
                 for n, s in secrets.items() if "KZ_AMQP_URL" in s["stringData"]}
    assert len(passwords) == 4, "every user has a password of its own"
    assert secrets["kzvoice-voicemail"]["stringData"]["KZ_UPLOAD_SECRET"]
    assert "KZ_STORE_URL" not in secrets["kzvoice-operator"]["stringData"]


def test_store_url_is_the_couchdb_admin():
    secrets = by_name(load().build(namespace=None))
    couch = secrets["kzvoice-couchdb"]["stringData"]
    store = urllib.parse.urlsplit(secrets["kzvoice-config"]["stringData"]["KZ_STORE_URL"])
    assert (store.username, store.password, store.hostname, store.port) == (
        couch["COUCHDB_USER"], couch["COUCHDB_PASSWORD"], "couchdb", 5984)


def test_definitions_secret_is_the_repository_file_with_hashes():
    tool = load()
    given = {"kzvoice-callflow": "pw-callflow", "kzvoice-operator": "pw operator/+"}
    secrets = by_name(tool.build(namespace=None, passwords=given))
    filled = json.loads(secrets["kzvoice-rabbitmq-definitions"]["stringData"]["definitions.json"])
    original = tool.load_definitions()
    for user in filled["users"]:
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        url = secrets[user["name"]]["stringData"]["KZ_AMQP_URL"]      # Secret name = user name
        password = urllib.parse.unquote(urllib.parse.urlsplit(url).password)
        assert digest == hashlib.sha256(salt + password.encode()).digest(), user["name"]
        user["password_hash"] = ""
    assert filled == original
    assert urllib.parse.unquote(urllib.parse.urlsplit(
        secrets["kzvoice-operator"]["stringData"]["KZ_AMQP_URL"]).password) == "pw operator/+"


def test_tls_urls():
    secrets = by_name(load().build(namespace=None, tls=True))
    url = urllib.parse.urlsplit(secrets["kzvoice-callflow"]["stringData"]["KZ_AMQP_URL"])
    assert (url.scheme, url.port) == ("amqps", 5671)


def test_command_line_prints_one_list(tmp_path):
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"kzvoice-config": "fixed"}))
    out = io.StringIO()
    with redirect_stdout(out):
        assert load().main(["--namespace", "ns1", "--passwords", str(passwords)]) == 0
    listing = json.loads(out.getvalue())
    config = by_name(listing)["kzvoice-config"]["stringData"]["KZ_AMQP_URL"]
    assert urllib.parse.urlsplit(config).password == "fixed"
