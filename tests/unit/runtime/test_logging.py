"""Every line of a call carries its Call-ID, in text and in JSON."""

import io
import json
import logging

from services.logging import bind_call, configure


def _capture(fmt):
    stream = io.StringIO()
    configure("info", fmt, stream=stream)
    return stream


def test_text_lines_carry_call_and_msg_id():
    stream = _capture("text")
    log = logging.getLogger("kz.test")
    with bind_call("call-1", "msg-1"):
        log.info("inside")
    log.info("outside")
    inside, outside = stream.getvalue().splitlines()
    assert "call=call-1" in inside and "msg=msg-1" in inside and inside.endswith("kz.test call=call-1 msg=msg-1: inside")
    assert "call=" not in outside


def test_json_lines_are_objects_with_call_id():
    stream = _capture("json")
    with bind_call("abc@1.2.3.4"):
        logging.getLogger("kz.test").warning("hello %s", "world")
    entry = json.loads(stream.getvalue())
    assert entry["call_id"] == "abc@1.2.3.4"
    assert entry["msg"] == "hello world"
    assert entry["level"] == "warning"


async def test_call_id_follows_into_spawned_tasks():
    import asyncio
    stream = _capture("text")

    async def child():
        logging.getLogger("kz.child").info("from child")

    with bind_call("call-7"):
        await asyncio.create_task(child())
    assert "call=call-7" in stream.getvalue()
