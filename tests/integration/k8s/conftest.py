"""The broker users of k8s/rabbitmq/definitions.json, for real, in a scratch vhost of this module.

``k8s_broker`` creates a vhost ``kzvoice-k8s-<hex>`` and the definitions' users renamed
``k8s<hex>-<name>`` with rabbitmqctl commands derived from the file (see rabbit_users.py),
and removes both afterwards.  ``guest`` keeps full rights on the vhost: the tests use it
as the media gateway, which is not ours to restrict.
"""

from __future__ import annotations

import asyncio
import secrets
import urllib.parse
from dataclasses import dataclass, field

import pytest

from tests.integration.k8s.rabbit_users import UserAdmin, load_definitions, scoped

pytestmark = pytest.mark.integration


@dataclass
class ScopedBroker:
    vhost: str
    prefix: str
    host: str
    port: int
    guest_url: str
    definitions: dict             # the scoped copy that was applied
    passwords: dict[str, str]     # scoped user -> password
    users: UserAdmin
    commands: list[str] = field(default_factory=list)

    def user(self, name: str) -> str:
        """The scoped name of a user of the definitions file (``kzvoice-callflow`` -> ``k8s..-kzvoice-callflow``)."""
        return self.prefix + name

    def url(self, name: str, *, password: str | None = None) -> str:
        user = self.user(name)
        pw = self.passwords[user] if password is None else password
        q = lambda text: urllib.parse.quote(text, safe="")  # noqa: E731
        return f"amqp://{q(user)}:{q(pw)}@{self.host}:{self.port}/{q(self.vhost)}"


def scratch_vhost(broker) -> str:
    vhost = f"kzvoice-k8s-{secrets.token_hex(4)}"
    broker.admin.add_vhost(vhost)
    return vhost


async def declare_kazoo_exchanges(url: str) -> None:
    """KAZOO's exchanges, as every participant declares them (a real cluster always has them)."""
    from services.bus import Bus, open_transport
    from services.messages.validation import Validator
    bus = Bus(open_transport(url), Validator(), app_name="k8s-test", node="k8s@test")
    await bus.start()
    await bus.close()


def guest_url(broker, vhost: str) -> str:
    parts = urllib.parse.urlsplit(broker.base_url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + urllib.parse.quote(vhost, safe=""), "", ""))


@pytest.fixture(scope="module")
def k8s_broker(broker):
    users = UserAdmin(broker.admin)
    vhost = scratch_vhost(broker)
    prefix = f"k8s{secrets.token_hex(4)}-"
    definitions = scoped(load_definitions(), vhost=vhost, prefix=prefix)
    passwords = {u["name"]: secrets.token_hex(16) for u in definitions["users"]}  # no leading "-" for rabbitmqctl
    parts = urllib.parse.urlsplit(broker.base_url)
    scoped_broker = ScopedBroker(vhost=vhost, prefix=prefix, host=parts.hostname or "127.0.0.1",
                                 port=parts.port or 5672, guest_url=guest_url(broker, vhost),
                                 definitions=definitions, passwords=passwords, users=users)
    try:
        asyncio.run(declare_kazoo_exchanges(scoped_broker.guest_url))
        scoped_broker.commands = users.apply_with_commands(definitions, passwords)
        yield scoped_broker
    finally:
        users.delete_users(passwords)
        broker.admin.delete_vhost(vhost)
