"""The bus layer on the real broker, and the in-memory bus held to the same behaviour.

Every test runs twice: ``rabbitmq`` (the real broker, this run's vhost) and
``memory`` (the in-process bus that ``KZ_AMQP_URL=memory://`` selects).
"""

from __future__ import annotations

import asyncio
import logging
import re

import orjson
import pytest

from services.bus import Bus, BusError, RequestTimeout, Unroutable
from services import exchanges as x
from services.bus.amqp import AmqpTransport
from services.bus.memory import MemoryBroker, MemoryTransport
from services.messages import catalogue
from services.messages.validation import Validator
from services.metrics import Metrics
from services.settings import Settings

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"


def spec(category: str, name: str, app: str | None = None):
    found = catalogue.lookup(category, name, app)
    assert found is not None, f"no declaration for {category}/{name}"
    return found


ROUTE_REQ = spec("dialplan", "route_req")
ROUTE_RESP = spec("dialplan", "route_resp")
DTMF = spec("call_event", "DTMF")
ACTION_EXECUTE = spec("callflow", "action.execute")


def route_req_fields(call_id: str = "at6dmu4ffk97vnlp6qfq") -> dict:
    return {"Call-ID": call_id, "Resource-Type": "audio", "Call-Direction": "inbound",
            "Request": "*97@acme.example.com", "To": "*97@acme.example.com", "From": "356@acme.example.com",
            "Caller-ID-Name": "web phone", "Caller-ID-Number": "356",
            "Custom-Channel-Vars": {"Account-ID": ACCOUNT, "Realm": "acme.example.com", "Username": "user_356"}}


@pytest.fixture(scope="session")
def validator():
    return Validator(Settings().schema_dir)


@pytest.fixture(params=["rabbitmq", "memory"])
async def make_bus(request, validator):
    kind = request.param
    url = request.getfixturevalue("amqp_url") if kind == "rabbitmq" else None
    broker = MemoryBroker()
    buses: list[Bus] = []

    async def factory(app: str = "test", metrics: Metrics | None = None) -> Bus:
        transport = AmqpTransport(url) if kind == "rabbitmq" else MemoryTransport(broker)
        bus = Bus(transport, validator, app_name=app, node=f"{app}@test", metrics=metrics)
        await bus.start()
        buses.append(bus)
        return bus

    factory.kind = kind
    yield factory
    for bus in buses:
        await bus.close()


async def _collect(bus: Bus, exchange, binding: str, spec_, queue: str | None = None):
    """A consumer bound with ``binding`` that puts each handled message on an asyncio.Queue."""
    from services.bus import unique_queue_name
    received: asyncio.Queue = asyncio.Queue()
    consumer = await bus.consumer(queue or unique_queue_name("t"), exclusive=True)
    await consumer.bind(exchange, binding)

    async def handler(message):
        received.put_nowait(message)
    consumer.on(spec_, handler)
    await consumer.start()
    return consumer, received


@pytest.mark.parametrize("make_bus", ["rabbitmq"], indirect=True)
async def test_kazoo_exchanges_are_declared_with_kazoo_flags(make_bus, broker):
    await make_bus()
    declared = {e["name"]: e for e in broker.admin.list_exchanges(broker.vhost)}
    for exchange in x.EXCHANGES.values():
        found = declared[exchange.name]
        assert found["type"] == exchange.type
        assert (found["durable"], found["auto_delete"], found["internal"]) == (False, False, False)
        assert found["arguments"] in ([], {})


async def test_redeclaring_an_exchange_with_other_flags_is_refused(make_bus):
    bus = await make_bus()
    with pytest.raises(BusError):
        await bus.transport.declare_exchange(x.Exchange("callmgr", "topic", durable=True))


async def test_publisher_fills_the_default_envelope_and_strips_empty_values(make_bus):
    bus = await make_bus("callflow")
    consumer, received = await _collect(bus, x.CALLMGR, "route.req.audio.*", ROUTE_REQ)
    fields = route_req_fields()
    fields["Caller-ID-Name"] = ""
    fields["Custom-Channel-Vars"]["Owner-ID"] = None
    sent = await bus.publish(ROUTE_REQ, fields, server_id="gw-q-1")
    message = await asyncio.wait_for(received.get(), 5)
    assert message["Event-Category"] == "dialplan" and message["Event-Name"] == "route_req"
    assert message["App-Name"] == "callflow" and message["App-Version"] and message["Node"] == "callflow@test"
    assert re.fullmatch(r"[0-9a-f]{32}", message.msg_id) and message.msg_id == sent["Msg-ID"]
    assert message.server_id == "gw-q-1"
    assert "Caller-ID-Name" not in message
    assert "Owner-ID" not in message["Custom-Channel-Vars"]
    assert message.routing_key == f"route.req.audio.{ACCOUNT}"


async def test_an_invalid_outgoing_message_raises_before_publishing(make_bus):
    from services.messages.errors import InvalidMessage
    bus = await make_bus()
    with pytest.raises(InvalidMessage):
        await bus.publish(ROUTE_REQ, {"Call-ID": "c1"})   # no From / To / Request


async def test_targeted_request_and_reply(make_bus):
    router, gateway = await make_bus("callflow"), await make_bus("freeswitch")
    consumer, _ = await _collect(router, x.CALLMGR, "route.req.audio.*", ROUTE_REQ)

    async def answer(req):
        await router.publish(ROUTE_RESP, {"Msg-ID": req.msg_id, "Call-ID": req.call_id, "Method": "park",
                                          "Routes": []}, to=req.server_id)
    consumer.on(ROUTE_REQ, answer)
    replies = await gateway.reply_queue("gw")
    reply = await replies.request(ROUTE_REQ, route_req_fields(), timeout=5)
    assert reply.spec is ROUTE_RESP
    assert reply["Method"] == "park" and reply["Routes"] == []
    # the reply travelled on `targeted` with the requester's queue name as key
    assert reply.routing_key == replies.name


async def test_pid_addresses_route_by_the_queue_part_and_set_deliver_to_pid(make_bus):
    router, gateway = await make_bus("callflow"), await make_bus("ecallmgr")
    replies = await gateway.reply_queue("gw")
    waiter = replies.expect("m-1")
    await router.publish(ROUTE_RESP, {"Msg-ID": "m-1", "Method": "park"}, to=f"pid://<0.4321.0>/{replies.name}")
    reply = await asyncio.wait_for(waiter, 5)
    assert reply.headers.get("Deliver-To-PID") == "<0.4321.0>"
    assert reply.routing_key == replies.name


async def test_call_events_use_encoded_call_id_and_carry_the_call_id_header(make_bus):
    gateway, app = await make_bus("freeswitch"), await make_bus("voicemail")
    call_id = "abc@1.2.3.4"
    consumer, received = await _collect(app, x.CALLEVT, x.call_events_binding(call_id), DTMF)
    other_consumer, other = await _collect(app, x.CALLEVT, x.call_events_binding("someone-else"), DTMF)
    await gateway.publish(DTMF, {"Call-ID": call_id, "DTMF-Digit": "5", "DTMF-Duration": 120})
    message = await asyncio.wait_for(received.get(), 5)
    assert message.routing_key == "call.DTMF.abc%401%2E2%2E3%2E4"
    assert message.headers.get("call-id") == call_id
    assert message["DTMF-Digit"] == "5"
    await asyncio.sleep(0.2)
    assert other.empty()


BAD_INPUTS = {
    "not_json": dict(body=b"{not json", content_type="application/json"),
    "content_type": dict(body=orjson.dumps({"Event-Category": "dialplan"}), content_type="text/plain"),
    "missing_header": dict(body=orjson.dumps({k: v for k, v in {
        "Event-Category": "dialplan", "Event-Name": "route_req", "App-Version": "1.0", "Msg-ID": "m",
        **route_req_fields()}.items()}), content_type="application/json"),   # no App-Name
    "schema": dict(body=orjson.dumps({"Event-Category": "dialplan", "Event-Name": "route_req", "App-Name": "x",
                                      "App-Version": "1.0", "Msg-ID": "m", **route_req_fields(),
                                      "Custom-Channel-Vars": "not an object"}), content_type="application/json"),
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
async def test_invalid_input_is_logged_dropped_and_the_consumer_keeps_serving(make_bus, bad, caplog, broker_or_none):
    metrics = Metrics()
    app = await make_bus("callflow", metrics=metrics)
    sender = await make_bus("sender")
    from services.bus import unique_queue_name
    queue = unique_queue_name("t-bad")
    consumer, received = await _collect(app, x.CALLMGR, "route.req.audio.*", ROUTE_REQ, queue=queue)
    caplog.set_level(logging.WARNING, logger="services.bus.consumer")
    await sender.transport.publish(x.CALLMGR, f"route.req.audio.{ACCOUNT}", **BAD_INPUTS[bad])
    await sender.publish(ROUTE_REQ, route_req_fields("valid-after-bad"))
    message = await asyncio.wait_for(received.get(), 5)
    assert message.call_id == "valid-after-bad"
    assert received.empty()
    dropped = [r for r in caplog.records if "dropped message" in r.getMessage()]
    assert len(dropped) == 1 and bad in dropped[0].getMessage()
    assert metrics.rejected.labels(queue, bad)._value.get() == 1
    if make_bus.kind == "rabbitmq":   # rejected without requeue: nothing left on the broker
        await asyncio.sleep(0.3)
        row = [q for q in broker_or_none.admin.list_queues(broker_or_none.vhost) if q["name"] == queue][0]
        assert row["messages"] == 0


async def test_a_failing_handler_drops_the_message_without_requeue_and_goes_on(make_bus, caplog):
    app, sender = await make_bus("callflow"), await make_bus("sender")
    seen = []
    consumer, _ = await _collect(app, x.CALLMGR, "route.req.audio.*", ROUTE_REQ)

    async def handler(message):
        seen.append(message.call_id)
        if message.call_id == "boom":
            raise RuntimeError("handler bug")
    consumer.on(ROUTE_REQ, handler)
    await sender.publish(ROUTE_REQ, route_req_fields("boom"))
    await sender.publish(ROUTE_REQ, route_req_fields("fine"))
    for _ in range(50):
        if "fine" in seen:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert seen == ["boom", "fine"]   # boom was not redelivered
    assert any("handler for" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_request_times_out_when_nobody_answers(make_bus):
    bus = await make_bus()
    replies = await bus.reply_queue("t")
    with pytest.raises(RequestTimeout):
        await replies.request(ROUTE_REQ, route_req_fields(), timeout=0.3)


async def test_a_returned_mandatory_message_raises_unroutable(make_bus):
    bus = await make_bus("callflow")
    body = {"Call-ID": "c-1", "Call": {"Call-ID": "c-1", "Account-ID": ACCOUNT, "Control-Queue": "gw-ctl-1",
                     "Key-Value-Store": {"remote-action": "voicemail"}},
            "Data": {"action": "check"}}
    with pytest.raises(Unroutable):
        await bus.publish(ACTION_EXECUTE, body, server_id="callflow_route_x")


async def test_closing_a_reply_queue_fails_pending_waiters(make_bus):
    bus = await make_bus()
    replies = await bus.reply_queue("t")
    waiter = replies.expect("never")
    await replies.close()
    with pytest.raises(BusError):
        await waiter


@pytest.mark.parametrize("make_bus", ["rabbitmq"], indirect=True)
async def test_queues_get_kazoo_bound_and_ttl_arguments(make_bus, broker_or_none):
    bus = await make_bus()
    consumer = await bus.consumer("kz-args-check")
    row = [q for q in broker_or_none.admin.list_queues(broker_or_none.vhost) if q["name"] == "kz-args-check"][0]
    arguments = row["arguments"]
    if isinstance(arguments, list):   # rabbitmqctl's JSON lists [name, AMQP type, value]
        arguments = {row[0]: row[-1] for row in arguments}
    assert arguments == {"x-max-length": 100, "x-message-ttl": 60000}


async def test_stop_waits_for_handlers_in_flight(make_bus):
    app, sender = await make_bus("callflow"), await make_bus("sender")
    finished = []
    consumer, _ = await _collect(app, x.CALLMGR, "route.req.audio.*", ROUTE_REQ)
    started = asyncio.Event()

    async def slow(message):
        started.set()
        await asyncio.sleep(0.5)
        finished.append(message.call_id)
    consumer.on(ROUTE_REQ, slow)
    await sender.publish(ROUTE_REQ, route_req_fields("slow-1"))
    await asyncio.wait_for(started.wait(), 5)
    assert await consumer.stop(drain_timeout=5) is True
    assert finished == ["slow-1"]


async def test_a_stopped_consumer_no_longer_counts_for_readiness(make_bus):
    bus = await make_bus()
    keep = await bus.consumer("kz-ready-keep", exclusive=True)
    await keep.start()
    per_call = await bus.consumer("kz-ready-call", exclusive=True)
    await per_call.start()
    assert bus.ready
    await per_call.stop(drain_timeout=1)
    assert per_call not in bus.consumers and keep in bus.consumers
    assert bus.ready
    not_started = await bus.consumer("kz-ready-late", exclusive=True)
    assert not bus.ready
    await not_started.start()
    assert bus.ready


@pytest.fixture
async def plain_listener(amqp_url, validator):
    """Our bus, and a plain aio-pika client's queue on the call events of one Call-ID."""
    import aio_pika
    raw = await aio_pika.connect(amqp_url)
    bus = Bus(AmqpTransport(amqp_url), validator, app_name="callflow", node="callflow@test")
    await bus.start()

    async def listen(call_id: str):
        channel = await raw.channel()
        callevt = await channel.declare_exchange(x.CALLEVT.name, x.CALLEVT.type, durable=x.CALLEVT.durable)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(callevt, x.call_events_binding(call_id))
        return queue

    yield bus, listen
    await bus.close()
    await raw.close()


async def test_what_a_plain_amqp_client_sees_of_a_published_message(plain_listener):
    """The transport writes the frame properties itself (not through aio-pika's Message): a plain
    client must still see a transient JSON message with our headers and the encoded body."""
    import aio_pika
    bus, listen = plain_listener
    queue = await listen("wire-1")
    sent = await bus.publish(DTMF, {"Call-ID": "wire-1", "DTMF-Digit": "7", "DTMF-Duration": 80})
    message = None
    for _ in range(50):
        message = await queue.get(timeout=5, fail=False)
        if message is not None:
            break
        await asyncio.sleep(0.1)
    assert message is not None, "nothing arrived"
    assert message.content_type == "application/json"
    assert message.content_encoding is None
    assert message.delivery_mode == aio_pika.DeliveryMode.NOT_PERSISTENT
    assert message.priority == 0
    assert message.headers == {"call-id": "wire-1"}
    assert orjson.loads(message.body) == sent
    await message.ack()


async def test_concurrent_plain_publishes_are_batched_in_order_and_each_publisher_answered(plain_listener):
    """Publishes made while one is being written join the next batch (services.bus.outbox.Outbox):
    every publisher returns, and the broker sees the messages in the order they were published."""
    bus, listen = plain_listener
    queue = await listen("batch-1")
    count = 300
    sent = await asyncio.gather(*(bus.publish(DTMF, {"Call-ID": "batch-1", "DTMF-Digit": str(n % 10),
                                                      "DTMF-Duration": n}) for n in range(count)))
    assert len(sent) == count
    received = []
    async with queue.iterator() as messages:
        async for message in messages:
            received.append(orjson.loads(message.body)["DTMF-Duration"])
            await message.ack()
            if len(received) == count:
                break
    assert received == list(range(count))


async def test_publishes_waiting_for_a_batch_fail_when_the_transport_closes(amqp_url, validator):
    transport = AmqpTransport(amqp_url)
    await transport.connect()
    publishes = [asyncio.ensure_future(transport.publish(x.CALLEVT, "call.DTMF.x", b"{}")) for _ in range(50)]
    await asyncio.sleep(0)           # every publish is in the outbox, the first batch is being written
    await transport.close()
    results = await asyncio.gather(*publishes, return_exceptions=True)
    failed = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, BusError) for r in failed), failed
    assert all(r is None or isinstance(r, BusError) for r in results), [type(r) for r in results]
