"""The definitions as RabbitMQ loads them at boot: k8s/tools/kzvoice_secrets.py's output, imported
with ``rabbitmqctl import_definitions`` (scoped to a scratch vhost and run-unique users, see
rabbit_users.py), gives the same permissions as the file and users that log in with the
passwords of the Secrets; the repository's file alone (no password hashes) lets nobody in."""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.parse

import aio_pika
import aiormq
import pytest

from services.bus import Bus, open_transport
from services.messages.validation import Validator
from tests.integration.k8s.conftest import declare_kazoo_exchanges, guest_url, scratch_vhost
from tests.integration.k8s.rabbit_users import UserAdmin, load_definitions, scoped
from tests.unit.k8s.secrets_tool import load as load_tool

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch(broker):
    users = UserAdmin(broker.admin)
    vhost = scratch_vhost(broker)
    prefix = f"k8si{secrets.token_hex(4)}-"
    made: list[str] = []
    try:
        yield users, vhost, prefix, made
    finally:
        users.delete_users(made)
        broker.admin.delete_vhost(vhost)


def secrets_for(broker, vhost: str, prefix: str) -> dict:
    parts = urllib.parse.urlsplit(broker.base_url)
    listing = load_tool().build(namespace=None, rabbitmq_host=parts.hostname or "127.0.0.1",
                                rabbitmq_port=parts.port or 5672,
                                definitions=scoped(load_definitions(), vhost=vhost, prefix=prefix),
                                user_prefix=prefix)
    return {item["metadata"]["name"]: item["stringData"] for item in listing["items"]}


async def test_imported_definitions_grant_what_the_file_says(broker, scratch):
    users, vhost, prefix, made = scratch
    made += [prefix + u["name"] for u in load_definitions()["users"]]
    made_secrets = secrets_for(broker, vhost, prefix)
    filled = json.loads(made_secrets["kzvoice-rabbitmq-definitions"]["definitions.json"])
    await asyncio.to_thread(users.import_definitions, filled)

    permissions = await asyncio.to_thread(users.permissions, vhost)
    topic = await asyncio.to_thread(users.topic_permissions, vhost)
    for p in filled["permissions"]:
        assert permissions[p["user"]] == {k: p[k] for k in ("configure", "write", "read")}
    for t in filled["topic_permissions"]:
        assert topic[(t["user"], t["exchange"])] == {"write": t["write"], "read": t["read"]}

    # every user logs in with the password in its Secret and can start a bus (declares KAZOO's exchanges)
    await declare_kazoo_exchanges(guest_url(broker, vhost))
    for name in ("kzvoice-callflow", "kzvoice-voicemail", "kzvoice-config", "kzvoice-operator"):
        url = made_secrets[name]["KZ_AMQP_URL"]
        assert urllib.parse.unquote(urllib.parse.urlsplit(url).username) == prefix + name
        bus = Bus(open_transport(url), Validator(), app_name=name, node=f"{name}@k8stest")
        await bus.start()
        await bus.close()


async def test_the_repository_file_alone_lets_nobody_log_in(broker, scratch):
    users, vhost, prefix, made = scratch
    plain = scoped(load_definitions(), vhost=vhost, prefix=prefix)
    made += [u["name"] for u in plain["users"]]
    await asyncio.to_thread(users.import_definitions, plain)
    parts = urllib.parse.urlsplit(broker.base_url)
    url = f"amqp://{prefix}kzvoice-operator:anything@{parts.hostname}:{parts.port or 5672}/{urllib.parse.quote(vhost, safe='')}"
    with pytest.raises((aiormq.exceptions.ProbableAuthenticationError, aio_pika.exceptions.AMQPConnectionError,
                        ConnectionError)) as refused:
        connection = await aio_pika.connect(url)
        await connection.close()
    print("login with an empty password hash:", refused.value)
    assert "ACCESS_REFUSED" in str(refused.value)
