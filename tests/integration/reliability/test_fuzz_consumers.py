"""Property-based bad input against every consumer of every service, on the real broker.

Hypothesis draws random and mutated KAZOO messages: valid JSON with wrong
types, missing and extra fields, huge strings, deep nesting, invalid UTF-8,
wrong content types.  Every drawn message is one our validator refuses (the
generator keeps only those), so each one must be counted in
``kzvoice_messages_rejected_total`` of the queue it was sent to -- none may
reach a handler, none may crash a service.  Afterwards every service still
answers a valid request, and /metrics shows the rejections by reason.

``KZ_FUZZ_MESSAGES`` sets how many messages each consumer gets (default 10,000).
"""

from __future__ import annotations

import asyncio
import os
import urllib.request

import aio_pika
import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.bus import codec
from services.messages import catalogue
from services.messages.errors import InvalidMessage
from services.messages.validation import Validator
from services.runtime import Runtime, ServiceContext
from services.settings import Settings
from services.store.memory import MemoryStore
from tests.contract.examples import EXAMPLES

MESSAGES_PER_CONSUMER = int(os.environ.get("KZ_FUZZ_MESSAGES", "10000"))
BATCH = 50

_validator = Validator()
_keys = sorted(EXAMPLES)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False),
                    st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)


def _deep(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


@st.composite
def mutated(draw) -> tuple[bytes, str, str | None]:
    """(body bytes, content type, content encoding) of one bad message."""
    kind = draw(st.sampled_from(["wrong_type", "missing", "extra_wrong", "huge", "deep", "utf8", "content_type",
                                 "random_json", "not_object", "gzip_garbage"]))
    body = EXAMPLES[draw(st.sampled_from(_keys))]()
    field = draw(st.sampled_from(sorted(body)))
    if kind == "wrong_type":
        current = body[field]
        body[field] = draw(json_values.filter(lambda v: type(v) is not type(current)))
    elif kind == "missing":
        for name in draw(st.lists(st.sampled_from(sorted(body)), min_size=1, max_size=4, unique=True)):
            body.pop(name, None)
    elif kind == "extra_wrong":
        body.update(draw(st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=5)))
        body[field] = draw(json_values)
    elif kind == "huge":
        body[field] = "x" * draw(st.integers(70_000, 1_200_000))
    elif kind == "deep":
        body[field] = _deep(draw(st.integers(40, 600)))
    elif kind == "utf8":
        raw = orjson.dumps(body)
        cut = draw(st.integers(0, len(raw)))
        return raw[:cut] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc"])) + raw[cut:], \
            "application/json", None
    elif kind == "content_type":
        ctype = draw(st.sampled_from(["text/plain", "application/erlang", "", "application/xml", "json"]))
        return orjson.dumps(body), ctype, None
    elif kind == "random_json":
        body = draw(st.dictionaries(st.text(max_size=20), json_values, max_size=8))
    elif kind == "not_object":
        return orjson.dumps(draw(st.one_of(scalars, st.lists(json_values, max_size=5)))), "application/json", None
    elif kind == "gzip_garbage":
        return draw(st.binary(min_size=1, max_size=64)), "application/json", "gzip"
    try:
        raw = orjson.dumps(body)
    except (orjson.JSONEncodeError, TypeError):
        raw = b"{"
    return raw, "application/json", None


def refused(item: tuple[bytes, str, str | None]) -> bool:
    raw, ctype, encoding = item
    try:
        decoded = codec.decode(raw, content_type=ctype, content_encoding=encoding)
        _validator.validate(_validator.identify(decoded), decoded)
    except InvalidMessage:
        return True
    return False


def draw_messages(count: int) -> list[tuple[bytes, str, str | None]]:
    drawn: list[tuple[bytes, str, str | None]] = []

    @settings(max_examples=max(1, count // BATCH), database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(mutated().filter(refused), min_size=BATCH, max_size=BATCH))
    def collect(batch):
        drawn.extend(batch)

    collect()
    return drawn[:count]


async def _exercise(amqp_url: str, messages) -> None:
    settings_ = Settings.from_env({"KZ_AMQP_URL": amqp_url, "KZ_STORE_URL": "memory://", "KZ_HTTP_PORT": "0",
                                   "KZ_HTTP_HOST": "127.0.0.1", "KZ_NODE": "kzvoice@fuzz"})
    runtime = Runtime(settings_, context=ServiceContext(settings_, store=MemoryStore()))
    await runtime.start()
    try:
        queues = sorted({c.queue for bus in runtime.context.buses for c in bus.consumers})
        metrics = runtime.context.metrics
        before = {q: _rejected(metrics, q) for q in queues}
        connection = await aio_pika.connect(amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=False)
            for queue in queues:
                for sent, (raw, ctype, encoding) in enumerate(messages, 1):
                    await channel.default_exchange.publish(
                        aio_pika.Message(raw, content_type=ctype or None, content_encoding=encoding),
                        routing_key=queue)
                    # the queues hold at most 100 (KAZOO's x-max-length, drop-head): keep the
                    # backlog well under that, so every message really reaches the consumer
                    waited = 0
                    while sent - (_rejected(metrics, queue) - before[queue]) > 60:
                        waited += 1
                        assert waited < 6000, f"{queue} stopped taking messages after {sent}"
                        await asyncio.sleep(0.005)
            for queue in queues:
                for _ in range(1200):
                    if _rejected(metrics, queue) - before[queue] >= len(messages):
                        break
                    await asyncio.sleep(0.05)
        finally:
            await connection.close()
        counts = {q: _rejected(metrics, q) - before[q] for q in queues}
        assert counts == {q: len(messages) for q in queues}
        assert sum(metrics.handler_errors.labels(q, m)._value.get()
                   for q in queues for m in [s.key for s in catalogue.all_specs()]) == 0

        # every service still answers correctly
        operator = await runtime.context.bus("kzvoice-cli")
        replies = await operator.reply_queue("fuzz-operator")
        reply = await replies.request(catalogue.SYSCONF_GET_REQ,
                                      {"Category": "callflow", "Key": "fuzz_check", "Default": 7}, timeout=10)
        assert reply["Value"] == 7
        assert runtime.ready
        url = f"http://127.0.0.1:{runtime.health.port}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
        assert 'kzvoice_messages_rejected_total{queue="sysconf_listener",reason="not_json"}' in text
    finally:
        await runtime.stop()


def _rejected(metrics, queue: str) -> float:
    return sum(sample.value for family in metrics.rejected.collect() for sample in family.samples
               if sample.name.endswith("_total") and sample.labels.get("queue") == queue)


@pytest.mark.slow
def test_fuzzed_messages_are_all_refused_and_every_service_survives(amqp_url):
    messages = draw_messages(MESSAGES_PER_CONSUMER)
    assert len(messages) == MESSAGES_PER_CONSUMER
    asyncio.run(_exercise(amqp_url, messages))
