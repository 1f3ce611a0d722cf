"""k8s/rabbitmq/definitions.json on the real broker: every service runs under its own user,
and only the operator's user may publish a config change (``sysconf.set``).

RabbitMQ's resource permissions name exchanges and queues, not routing keys; the
``sysconf`` rule is a *topic permission* (exchange ``sysconf``, write regex on the routing
key).  The users are the file's, renamed per run, in a scratch vhost (conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import urllib.request

import aio_pika
import aiormq
import pytest

from services.bus import Bus, codec, open_transport, unique_queue_name
from services.exchanges import CALLMGR, SYSCONF, route_req_key
from services.messages import catalogue
from services.messages.validation import Validator
from services.runtime import Runtime, ServiceContext
from services.settings import Settings
from services.store.memory import MemoryStore

pytestmark = pytest.mark.integration

VALIDATOR = Validator()
SERVICE_USERS = {"callflow": "kzvoice-callflow", "voicemail": "kzvoice-voicemail", "config": "kzvoice-config"}
OPERATOR = "kzvoice-operator"
KEY = "dialog_subscribed_mwi_prefix"


def set_req_body(value: str) -> bytes:
    """A valid sysconf set_req, built by kzvoice's own publisher."""
    bus = Bus(open_transport("memory://k8s-build"), VALIDATOR, app_name="probe", node="probe@k8s")
    body = bus.publisher.build(catalogue.SYSCONF_SET_REQ, {"Category": "callflow", "Key": KEY, "Value": value})
    return codec.encode(body)


async def publish_confirmed(url: str, exchange: str, routing_key: str, body: bytes) -> str | None:
    """Publish with publisher confirms; the broker's refusal text, or None when it took the message."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=False)
        try:
            await target.publish(aio_pika.Message(body, content_type="application/json"), routing_key=routing_key)
        except aiormq.exceptions.ChannelAccessRefused as exc:
            return str(exc)
        return None
    finally:
        await connection.close()


async def bind_refusal(url: str, queue: str, exchange: str, routing_key: str) -> str | None:
    """Declare ``queue`` and bind it; the broker's refusal text, or None when the bind worked."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        q = await channel.declare_queue(queue, exclusive=True, auto_delete=True)
        try:
            await q.bind(exchange, routing_key=routing_key)
        except aiormq.exceptions.ChannelAccessRefused as exc:
            return str(exc)
        return None
    finally:
        await connection.close()


def settings_for(url: str, name: str) -> Settings:
    return Settings(amqp_url=url, store_url="memory://", http_port=0, http_host="127.0.0.1",
                    node=f"{name}_svc@k8stest", zone="local", drain_seconds=2.0)


async def start_runtime(url: str, name: str, store) -> Runtime:
    settings = settings_for(url, name)
    runtime = Runtime(settings, [name], context=ServiceContext(settings, store=store))
    await runtime.start()
    return runtime


def http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def wait_ready(runtime: Runtime, timeout: float = 10.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status = await asyncio.to_thread(http_status, runtime.health.port, "/readyz")
        if status == 200 or loop.time() > deadline:
            return status
        await asyncio.sleep(0.1)


async def operator_cli(k8s_broker, *args: str) -> tuple[int, str, str]:
    """``kzvoice config ...`` in its own process under the operator's user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KZ_")}
    env.update(KZ_AMQP_URL=k8s_broker.url(OPERATOR), KZ_LOG_LEVEL="warning")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.cli", "config", *args,
                                                env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


# ---- the refusals, as RabbitMQ reports them ------------------------------------------------


@pytest.mark.parametrize("service", ["callflow", "voicemail"])
async def test_service_user_is_refused_publishing_a_config_set(k8s_broker, service):
    user = k8s_broker.user(SERVICE_USERS[service])
    refusal = await publish_confirmed(k8s_broker.url(SERVICE_USERS[service]), "sysconf", "sysconf.set",
                                      set_req_body("*66"))
    print(f"{user} publishing sysconf.set: {refusal}")
    assert refusal is not None, f"{user} could publish sysconf.set"
    assert re.search(rf"ACCESS_REFUSED - access to topic 'sysconf\.set' in exchange 'sysconf' in vhost "
                     rf"'{re.escape(k8s_broker.vhost)}' refused for user '{re.escape(user)}'", refusal), refusal


async def test_config_svc_user_may_not_publish_on_sysconf_at_all(k8s_broker):
    # config_svc only consumes sysconf; it has no write permission on the exchange itself
    user = k8s_broker.user("kzvoice-config")
    refusal = await publish_confirmed(k8s_broker.url("kzvoice-config"), "sysconf", "sysconf.set", set_req_body("*66"))
    print(f"{user} publishing sysconf.set: {refusal}")
    assert refusal is not None
    assert re.search(rf"ACCESS_REFUSED - access to exchange 'sysconf' in vhost '{re.escape(k8s_broker.vhost)}' "
                     rf"refused for user '{re.escape(user)}'", refusal), refusal


@pytest.mark.parametrize("service", ["callflow", "voicemail"])
async def test_service_users_may_still_ask_for_config(k8s_broker, service):
    # sysconf.get is what their config client publishes; nobody is bound here, the broker just takes it
    assert await publish_confirmed(k8s_broker.url(SERVICE_USERS[service]), "sysconf", "sysconf.get", b"{}") is None


async def test_operator_user_may_publish_a_config_set(k8s_broker):
    assert await publish_confirmed(k8s_broker.url(OPERATOR), "sysconf", "sysconf.set", set_req_body("*66")) is None


async def test_service_user_cannot_listen_to_config_sets(k8s_broker):
    # topic read permissions check binding keys: callflow may hear sysconf.flush, not sysconf.set
    url = k8s_broker.url("kzvoice-callflow")
    assert await bind_refusal(url, unique_queue_name("config-events"), "sysconf", "sysconf.flush") is None
    refusal = await bind_refusal(url, unique_queue_name("config-events"), "sysconf", "sysconf.set")
    print(f"callflow binding sysconf.set: {refusal}")
    assert refusal is not None and "ACCESS_REFUSED - access to topic 'sysconf.set' in exchange 'sysconf'" in refusal


@pytest.mark.parametrize("name,exchange,routing_key", [
    ("kzvoice-config", "callmgr", "route.req.audio.x"),        # forge a route request
    ("kzvoice-callflow", "configuration", "doc_edited.system_config.config.callflow"),  # forge a change event
    ("kzvoice-voicemail", "kapps", "callflow.action.voicemail"),  # hand itself calls
    ("kzvoice-operator", "callctl", "some-control-queue"),       # drive a call
])
async def test_users_may_not_publish_where_they_have_no_business(k8s_broker, name, exchange, routing_key):
    refusal = await publish_confirmed(k8s_broker.url(name), exchange, routing_key, b"{}")
    assert refusal is not None and f"access to exchange '{exchange}'" in refusal, refusal


async def test_service_users_may_not_take_each_others_queues(k8s_broker):
    connection = await aio_pika.connect(k8s_broker.url("kzvoice-callflow"))
    try:
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match="queue 'sysconf_listener'"):
            await channel.declare_queue("sysconf_listener", auto_delete=True,
                                        arguments={"x-max-length": 100, "x-message-ttl": 60000})
    finally:
        await connection.close()


# ---- the services under their own users ----------------------------------------------------


@pytest.fixture
async def store():
    from gateway_sim.demo import seed
    memory = MemoryStore()
    await seed(memory)
    return memory


@pytest.fixture
async def services(k8s_broker, store):
    """config_svc, callflow_svc and voicemail_svc, each a Runtime with its own user's KZ_AMQP_URL."""
    started: dict[str, Runtime] = {}
    try:
        for name in ("config", "callflow", "voicemail"):
            started[name] = await start_runtime(k8s_broker.url(SERVICE_USERS[name]), name, store)
        yield started
    finally:
        for runtime in reversed(list(started.values())):
            await runtime.stop()


async def test_each_service_becomes_ready_under_its_own_user(k8s_broker, services):
    for name, runtime in services.items():
        assert await wait_ready(runtime) == 200, f"{name} not ready under {k8s_broker.user(SERVICE_USERS[name])}"
    connections = await asyncio.to_thread(k8s_broker.users.connections, k8s_broker.vhost)
    by_app = {c["name"].split("@")[0]: c["user"] for c in connections}
    print("connections on the vhost:", json.dumps(connections, indent=1))
    assert by_app.get("callflow") == k8s_broker.user("kzvoice-callflow")
    assert by_app.get("voicemail") == k8s_broker.user("kzvoice-voicemail")
    assert by_app.get("config_svc") == k8s_broker.user("kzvoice-config")


async def test_config_set_only_through_the_operator_and_read_by_the_services(k8s_broker, services, store):
    """The story of the issue: a service's forged set is refused, the operator's CLI set is applied,
    and callflow_svc (under its own user) reads the operator's value through config_svc."""
    forged = await publish_confirmed(k8s_broker.url("kzvoice-callflow"), "sysconf", "sysconf.set",
                                     set_req_body("*66"))
    assert forged is not None and "ACCESS_REFUSED" in forged

    code, out, err = await operator_cli(k8s_broker, "set-default", "callflow", KEY, "*98")
    assert code == 0, f"kzvoice config set-default failed ({code}): {out} {err}"
    assert "*98" in out

    code, out, err = await operator_cli(k8s_broker, "get", "callflow", KEY)
    assert code == 0 and out.strip() == '"*98"', (code, out, err)

    # callflow_svc's own config client (sysconf.get as kzvoice-callflow) sees the operator's value
    client = services["callflow"].services[0]._config_client
    assert await client.get("callflow", KEY) == "*98"

    doc = await store.get("system_config", "callflow")
    assert doc["default"][KEY] == "*98"


async def test_a_call_routes_through_callflow_and_voicemail_under_their_own_users(k8s_broker, services, store):
    """route_req answered by callflow_svc, the voicemail module run by voicemail_svc; the media
    gateway is the simulator on guest (it is KAZOO's ecallmgr in a real cluster, not ours)."""
    from gateway_sim import Gateway, GatewayConfig
    from gateway_sim.demo import ACCOUNT, DEVICE
    from gateway_sim.scripts import Script

    for runtime in services.values():
        assert await wait_ready(runtime) == 200
    gateway_bus = Bus(open_transport(k8s_broker.guest_url), VALIDATOR, app_name="freeswitch", node="gw@k8stest")
    await gateway_bus.start()
    gateway = Gateway(gateway_bus, store, GatewayConfig(time_scale=0.01, route_timeout=2.0, max_call_seconds=20))
    await gateway.start()
    try:
        result = await gateway.place_call(account_id=ACCOUNT, device_id=DEVICE, dial="*97",
                                          script=Script().hang_up_after(3))
    finally:
        await gateway.stop()
        await gateway_bus.close()
    print(result.summary(), result.prompts, result.commands)
    callflow = services["callflow"].services[0]
    voicemail = services["voicemail"].services[0]
    assert result.ok, result.summary()
    assert result.winner and result.winner.get("Server-ID") == callflow.server_id
    assert "answer" in result.commands                      # voicemail_svc answered the call
    assert any(p.startswith("vm-") for p in result.prompts)  # and played its prompts over callctl
    assert voicemail.listener.results_sent >= 1             # and returned its action.result
