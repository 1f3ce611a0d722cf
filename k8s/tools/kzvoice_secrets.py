#!/usr/bin/env python3
"""Make the Secrets kzvoice's manifests refer to, as one Kubernetes List on stdout.

    python3 k8s/tools/kzvoice_secrets.py --namespace kzvoice | kubectl apply -f -

* ``kzvoice-callflow``, ``kzvoice-voicemail``, ``kzvoice-config``: each service's
  ``KZ_AMQP_URL`` (its own broker user) and ``KZ_STORE_URL``; voicemail also gets
  ``KZ_UPLOAD_SECRET`` (shared by its replicas, so any of them accepts an upload URL
  another signed);
* ``kzvoice-operator``: the operator's ``KZ_AMQP_URL`` (the only user that may publish
  ``sysconf.set``), used by the toolbox pod;
* ``kzvoice-couchdb``: the CouchDB admin the StatefulSet creates;
* ``kzvoice-rabbitmq-definitions``: ``k8s/rabbitmq/definitions.json`` with each user's
  password hash filled in, loaded by the RabbitmqCluster at boot.

Passwords are random unless ``--passwords FILE`` (JSON: user name -> password) gives
them, so re-running with the same file reproduces the same Secrets (password hashes use
a fresh salt each run; RabbitMQ accepts either). Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import secrets
import sys
import urllib.parse
from pathlib import Path
from typing import Any, Mapping

DEFINITIONS = Path(__file__).resolve().parent.parent / "rabbitmq" / "definitions.json"

# Secret name -> broker user of k8s/rabbitmq/definitions.json
SERVICE_USERS = {
    "kzvoice-callflow": "kzvoice-callflow",
    "kzvoice-voicemail": "kzvoice-voicemail",
    "kzvoice-config": "kzvoice-config",
}
OPERATOR_USER = "kzvoice-operator"
COUCHDB_USER = "kzvoice"


def rabbit_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4) if salt is None else salt
    if len(salt) != 4:
        raise ValueError("RabbitMQ password salts are 4 bytes")
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def load_definitions(path: Path = DEFINITIONS) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def with_passwords(definitions: Mapping[str, Any], passwords: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``definitions`` whose users carry the hashes of ``passwords``."""
    filled = copy.deepcopy(dict(definitions))
    for user in filled.get("users", []):
        password = passwords.get(user["name"])
        if not password:
            raise ValueError(f"no password for broker user {user['name']!r}")
        user["password_hash"] = rabbit_password_hash(password)
        user["hashing_algorithm"] = "rabbit_password_hashing_sha256"
    return filled


def amqp_url(user: str, password: str, *, host: str, vhost: str, tls: bool, port: int | None = None) -> str:
    scheme, default_port = ("amqps", 5671) if tls else ("amqp", 5672)
    port = port or default_port
    quote = lambda text: urllib.parse.quote(text, safe="")  # noqa: E731
    return f"{scheme}://{quote(user)}:{quote(password)}@{host}:{port}/{quote(vhost)}"


def couch_url(user: str, password: str, *, host: str) -> str:
    quote = lambda text: urllib.parse.quote(text, safe="")  # noqa: E731
    return f"http://{quote(user)}:{quote(password)}@{host}:5984"


def secret(name: str, namespace: str | None, data: Mapping[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/part-of": "kzvoice"}}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque",
            "stringData": dict(data)}


def make_passwords(users: list[str], given: Mapping[str, str]) -> dict[str, str]:
    return {user: given.get(user) or secrets.token_hex(24) for user in users}


def build(*, namespace: str | None, rabbitmq_host: str = "rabbitmq", rabbitmq_port: int | None = None,
          couchdb_host: str = "couchdb", tls: bool = False, passwords: Mapping[str, str] | None = None,
          definitions: Mapping[str, Any] | None = None, user_prefix: str = "") -> dict[str, Any]:
    """Every Secret as one ``v1/List``. ``user_prefix``: the broker users of ``definitions`` are
    named ``<prefix><user>`` (the tests run the file under run-unique names)."""
    definitions = load_definitions() if definitions is None else definitions
    broker_users = [user["name"] for user in definitions["users"]]
    missing = {user_prefix + u for u in [*SERVICE_USERS.values(), OPERATOR_USER]}
    missing -= set(broker_users)
    if missing:
        raise ValueError(f"definitions.json lacks the users {', '.join(sorted(missing))}")
    vhosts = {p["vhost"] for p in definitions["permissions"]}
    if len(vhosts) != 1:
        raise ValueError(f"expected the permissions of one vhost, found {sorted(vhosts)}")
    vhost = vhosts.pop()
    given = dict(passwords or {})
    pw = make_passwords(broker_users + [COUCHDB_USER, "couchdb-secret", "upload-secret"], given)
    store = couch_url(COUCHDB_USER, pw[COUCHDB_USER], host=couchdb_host)

    def broker(user: str) -> str:
        return amqp_url(user, pw[user], host=rabbitmq_host, port=rabbitmq_port, vhost=vhost, tls=tls)

    items = []
    for name, user in SERVICE_USERS.items():
        data = {"KZ_AMQP_URL": broker(user_prefix + user), "KZ_STORE_URL": store}
        if name == "kzvoice-voicemail":
            data["KZ_UPLOAD_SECRET"] = pw["upload-secret"]
        items.append(secret(name, namespace, data))
    items.append(secret("kzvoice-operator", namespace, {"KZ_AMQP_URL": broker(user_prefix + OPERATOR_USER)}))
    items.append(secret("kzvoice-couchdb", namespace, {
        "COUCHDB_USER": COUCHDB_USER, "COUCHDB_PASSWORD": pw[COUCHDB_USER], "COUCHDB_SECRET": pw["couchdb-secret"]}))
    filled = with_passwords(definitions, {user: pw[user] for user in broker_users})
    items.append(secret("kzvoice-rabbitmq-definitions", namespace,
                        {"definitions.json": json.dumps(filled, indent=2) + "\n"}))
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespace", help="namespace to put the Secrets in (default: kubectl's current one)")
    parser.add_argument("--rabbitmq-host", default="rabbitmq",
                        help="host name of RabbitMQ's client Service (default: rabbitmq)")
    parser.add_argument("--couchdb-host", default="couchdb", help="host name of CouchDB's Service (default: couchdb)")
    parser.add_argument("--tls", action="store_true", help="amqps:// on 5671 instead of amqp:// on 5672")
    parser.add_argument("--passwords", type=Path,
                        help="JSON file {\"user\": \"password\"} for any of: " + ", ".join(
                            [*SERVICE_USERS.values(), OPERATOR_USER, COUCHDB_USER, "couchdb-secret", "upload-secret"]))
    args = parser.parse_args(argv)
    given = json.loads(args.passwords.read_text(encoding="utf-8")) if args.passwords else {}
    try:
        listing = build(namespace=args.namespace, rabbitmq_host=args.rabbitmq_host, couchdb_host=args.couchdb_host,
                        tls=args.tls, passwords=given)
    except ValueError as exc:
        print(f"kzvoice_secrets: {exc}", file=sys.stderr)
        return 2
    json.dump(listing, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
