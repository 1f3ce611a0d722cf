"""``/readyz`` answers 200 only once every service of the process consumes on all its bindings.

The services are started the way a container starts them: ``kzvoice run`` as a process of
its own, with a SQLite store file seeded with one account.  The test polls ``/readyz`` every
10 ms; at the first 200 it freezes the process (SIGSTOP), so that what the broker holds is
exactly what the process had set up when it said "ready", and then

* lists the broker's bindings and consumers of the test's own vhost;
* publishes a route_req, a voicemail action (mandatory, so an unbound key fails at once),
  a sysconf get_req and a media_req, as a gateway and callflow_svc would at that moment;
* lets the process run again (SIGCONT) and waits for the four answers: route_resp,
  action.accepted (then action.result, after the call's CHANNEL_DESTROY), get_resp and
  the media responder's media_error (voicemail_svc hosts it, media.md 6.1).

Finally every binding and consumed queue the process has once it is idle must already have
been there at the first 200 (the per-call binding of the voicemail action aside).  Before the
fix, the first 200 came as soon as config_svc was up, with callflow_svc and voicemail_svc
still connecting: the route_req was lost and the action unroutable.  SIGSTOP makes that
deterministic rather than a matter of how fast the machine is.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
import time
import urllib.parse
from pathlib import Path

import aiohttp
import pytest

from gateway_sim.routing import build_route_req
from services.bus import Unroutable
from services.exchanges import call_events_binding
from services.messages import catalogue as m
from services.store import open_store
from tests.contract.examples import build
from tests.support.reliability import make_bus, seed_fast_site

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
POLL_S = 0.010
ANSWER_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def vhost_url(broker):
    """A vhost of this test's own: no other test's services may answer in its place."""
    vhost = f"kzvoice-ready-{secrets.token_hex(4)}"
    broker.admin.add_vhost(vhost)
    parts = urllib.parse.urlsplit(broker.base_url)
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + urllib.parse.quote(vhost, safe=""), "", ""))
    yield vhost, url
    broker.admin.delete_vhost(vhost)


@pytest.fixture
async def seeded_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    async with open_store(url) as store:
        site = await seed_fast_site(store, "ready")
    return url, site


async def first_200(proc: asyncio.subprocess.Process, port: int, *, timeout: float = 60.0) -> tuple[int, str]:
    """Poll /readyz every 10 ms; at the first 200 stop the process at once. Returns how many
    503 answers came before, and the last 503's text."""
    deadline = time.monotonic() + timeout
    not_ready, last = 0, ""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise AssertionError(f"kzvoice run exited with {proc.returncode} before it was ready")
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        proc.send_signal(signal.SIGSTOP)
                        return not_ready, last
                    not_ready += 1
                    last = await resp.text()
            except aiohttp.ClientError:
                pass                                        # not listening yet
            await asyncio.sleep(POLL_S)
    raise AssertionError(f"kzvoice run never became ready ({not_ready} answers of 503, last {last!r})")


async def test_readyz_first_200_means_every_service_consumes_on_all_its_bindings(broker, vhost_url, seeded_store,
                                                                                  tmp_path):
    vhost, url = vhost_url
    store_url, site = seeded_store
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KZ_")}
    env.update(KZ_AMQP_URL=url, KZ_STORE_URL=store_url, KZ_HTTP_HOST="127.0.0.1", KZ_HTTP_PORT=str(port),
               KZ_PUBLIC_URL=f"http://127.0.0.1:{free_port()}", KZ_SPOOL_DIR=str(tmp_path / "spool"),
               KZ_DRAIN_SECONDS="2", KZ_NODE="kzvoice@readiness", KZ_LOG_LEVEL="info", PYTHONPATH=str(ROOT))
    bus = await make_bus(url, "readiness-probe")
    replies = await bus.reply_queue("readiness-probe")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.cli", "run", cwd=tmp_path, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    stopped = False
    try:
        not_ready, last_503 = await first_200(proc, port)
        stopped = True
        print(f"first 200 after {not_ready} answers of 503 (last: {last_503.strip()!r})")

        # the process is frozen as it was when it said "ready"
        bound_at_200 = await asyncio.to_thread(broker.admin.list_bindings, vhost)
        consumed_at_200 = await asyncio.to_thread(broker.admin.list_consumed_queues, vhost)

        call_id, fetch_id = secrets.token_hex(10), secrets.token_hex(16)
        route_req = build_route_req(site.endpoint(), "2000", call_id=call_id, fetch_id=fetch_id,
                                    node="gateway@readiness", hostname="readiness", server_id=replies.name)
        route_resp = replies.expect(fetch_id)
        await bus.publish(m.ROUTE_REQ, route_req)

        vm_call_id, action_id = secrets.token_hex(10), secrets.token_hex(16)
        action = build("callflow.action.execute")
        action.update({"Msg-ID": action_id, "Call-ID": vm_call_id, "Server-ID": replies.name})
        action["Call"].update({"Call-ID": vm_call_id, "Control-Queue": f"readiness-ctl-{vm_call_id}"})
        action_replies = replies.stream(action_id)          # action.accepted, then action.result
        try:
            await bus.publish(m.ACTION_EXECUTE, action)
            action_routed = True
        except Unroutable:
            action_routed = False

        get_id = secrets.token_hex(16)
        get_resp = replies.expect(get_id)
        await bus.publish(m.get("sysconf.get_req"), {"Msg-ID": get_id, "Category": "callflow",
                                                     "Key": "readiness_probe", "Default": "x"},
                          server_id=replies.name)

        media_id = secrets.token_hex(8)
        media_reply = replies.expect(media_id)
        await bus.publish(m.MEDIA_REQ, {"Msg-ID": media_id, "Media-Name": "prompt://system_media/vm-nothing/en-us",
                                        "Stream-Type": "new", "Call-ID": call_id}, server_id=replies.name)

        proc.send_signal(signal.SIGCONT)
        stopped = False
        answers = await asyncio.gather(asyncio.wait_for(route_resp, ANSWER_TIMEOUT_S),
                                       action_replies.next(ANSWER_TIMEOUT_S),
                                       asyncio.wait_for(get_resp, ANSWER_TIMEOUT_S),
                                       asyncio.wait_for(media_reply, ANSWER_TIMEOUT_S), return_exceptions=True)
        served = {name: not isinstance(answer, BaseException)
                  for name, answer in zip(("route_req", "voicemail action", "sysconf get_req", "media_req"), answers)}
        served["voicemail action"] = served["voicemail action"] and action_routed
        assert served == {"route_req": True, "voicemail action": True, "sysconf get_req": True, "media_req": True}, \
            f"sent at the first 200: {served}; consumed then: {sorted(consumed_at_200)}"
        assert answers[0]["Method"] == "park"
        assert answers[1].spec is m.ACTION_ACCEPTED
        assert answers[2]["Value"] == "x"
        assert (answers[3].spec, answers[3]["Error-Code"]) == (m.MEDIA_ERROR, "not_found")   # no such prompt

        # the voicemail call ends: its session sends its one result
        destroy = build("call_event.CHANNEL_DESTROY")
        destroy.update({"Call-ID": vm_call_id, "Msg-ID": secrets.token_hex(16)})
        await bus.publish(m.CALL_EVENTS["CHANNEL_DESTROY"], destroy)
        assert (await action_replies.next(ANSWER_TIMEOUT_S)).spec is m.ACTION_RESULT
        action_replies.close()

        # nothing the idle process consumes or binds was missing at the first 200
        bound_idle = await asyncio.to_thread(broker.admin.list_bindings, vhost)
        consumed_idle = await asyncio.to_thread(broker.admin.list_consumed_queues, vhost)
        per_call = {b for b in bound_idle | bound_at_200 if b[1] == call_events_binding(vm_call_id)}
        probe = {q for q in consumed_idle if q.startswith("readiness-probe")}
        assert sorted(bound_idle - bound_at_200 - per_call) == [], "bound only after the first 200"
        assert sorted(consumed_idle - consumed_at_200 - probe) == [], "consumed only after the first 200"
        service_queues = {q for q in consumed_at_200 if not q.startswith("readiness-probe")}
        for prefix in ("sysconf_listener", "callflow_route_", "callflow-cache-", "callflow-destroy-",
                       "voicemail_actions", "voicemail_events-", "voicemail-", "voicemail_notify-",
                       "voicemail_mwi_queries", "config-client-", "config-events-", "media_requests",
                       "media_events-"):
            assert any(q.startswith(prefix) for q in service_queues), f"no {prefix}* queue consumed at the first 200"
    finally:
        if stopped:
            proc.send_signal(signal.SIGCONT)
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        output = (await proc.stdout.read()).decode(errors="replace")
        print(output[-4000:])
        await bus.close()
