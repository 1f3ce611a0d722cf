"""SIGTERM during a voicemail being left: what a rolling update or a scale-down does to a pod.

voicemail_svc runs as its own process (``python -m voicemail_svc``, the container's command)
under its broker user, with a SQLite store file the test can read afterwards. While the
caller is recording, the process gets SIGTERM. The runtime stops taking new actions and
lets the session finish within KZ_DRAIN_SECONDS: the caller ends the recording, saves it,
the gateway uploads it to this replica's upload endpoint, the message is stored and the
module result goes back; then the process exits 0. Nothing is lost.

config_svc (its own user, in this process) answers the config reads; the gateway simulator
and a test executor (standing in for callflow_svc) run on guest.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request

import pytest

from gateway_sim import Gateway, GatewayConfig, Script
from services.runtime import ServiceContext
from services.settings import Settings
from services.store import layout, open_store
from tests.integration.voicemail.conftest import (FAST, FAST_CALL_COMMAND, TEST_MEDIA, ComposeEnv, Ids, seed_default,
                                                  set_system_config)

pytestmark = pytest.mark.integration

DRAIN_SECONDS = 20
# slow enough that the SIGTERM lands while the caller is still speaking
TIME_SCALE = 0.05
SPEAK_S = 30.0          # simulated seconds of speech: 1.5 s of real time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def records(sent: list[dict]) -> list[dict]:
    found = []
    for command in sent:
        items = command.get("Commands") if command.get("Application-Name") == "queue" else [command]
        found += [c for c in items or [] if c.get("Application-Name") == "record"]
    return found


@pytest.fixture
async def store_file(tmp_path):
    ids = Ids()
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"       # an absolute path: sqlite:////...
    async with open_store(url) as store:
        await store.init_db()
        await seed_default(store, ids)
        await set_system_config(store, "call_command", dict(FAST_CALL_COMMAND))
        from testkit.media import seed_system_prompts
        await seed_system_prompts(store, extra=tuple(TEST_MEDIA))    # fetched by the simulator (media.md 6.6)
    return url, ids


async def start_voicemail_process(k8s_broker, tmp_path, store_url: str):
    http_port, upload_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KZ_")}
    env.update(KZ_AMQP_URL=k8s_broker.url("kzvoice-voicemail"), KZ_STORE_URL=store_url,
               KZ_HTTP_HOST="127.0.0.1", KZ_HTTP_PORT=str(http_port),
               KZ_PUBLIC_URL=f"http://127.0.0.1:{upload_port}", KZ_UPLOAD_SECRET="k8s-test-secret",
               KZ_SPOOL_DIR=str(tmp_path / "spool"), KZ_DRAIN_SECONDS=str(DRAIN_SECONDS),
               KZ_NODE="voicemail_svc@k8stest", KZ_LOG_FORMAT="json", KZ_LOG_LEVEL="info")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "voicemail_svc", env=env, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    for _ in range(300):
        if proc.returncode is not None:
            break
        if await asyncio.to_thread(ready, http_port):
            return proc
        await asyncio.sleep(0.1)
    out = (await proc.stdout.read()).decode() if proc.returncode is not None else ""
    proc.kill()
    raise AssertionError(f"voicemail_svc did not become ready: {out}")


async def test_sigterm_during_a_recording_lets_the_message_be_saved_and_exits_0(k8s_broker, tmp_path, store_file):
    store_url, ids = store_file
    async with open_store(store_url) as store:
        env = ComposeEnv(k8s_broker.guest_url, tmp_path, store, ids)
        # config_svc under its own user, on the same store file
        config_settings = Settings(amqp_url=k8s_broker.url("kzvoice-config"), store_url=store_url,
                                   node="config_svc@k8stest", http_host="127.0.0.1")
        config_context = ServiceContext(config_settings, store=store)
        from config_svc.app import build as build_config
        config = build_config(config_context)
        await config.start()
        proc = await start_voicemail_process(k8s_broker, tmp_path, store_url)
        env.context = ServiceContext(Settings(amqp_url=k8s_broker.guest_url, store_url="memory://",
                                              node="kzvoice@k8stest"), store=store)
        env.gateway = Gateway(await env.context.bus("freeswitch"), None,
                              GatewayConfig(recording_dir=str(tmp_path / "recordings"), media_seconds=TEST_MEDIA,
                                            **{**FAST, "time_scale": TIME_SCALE, "max_call_seconds": 600}))
        await env.gateway.start()
        await env._start_test_bus()
        signalled = asyncio.Event()

        async def sigterm_while_recording(call) -> None:
            for _ in range(600):
                if records(env.sent.get(call.call_id, [])):
                    await asyncio.sleep(0.2)            # the caller is speaking now
                    proc.send_signal(signal.SIGTERM)
                    signalled.set()
                    return
                await asyncio.sleep(0.02)

        try:
            script = Script().on_record_start(speak=SPEAK_S, press="1").on_prompt("vm-review_recording", press="1")
            out = await env.place(script=script, during=sigterm_while_recording, timeout=DRAIN_SECONDS + 10)
            code = await asyncio.wait_for(proc.wait(), DRAIN_SECONDS + 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await env.gateway.stop()
            await config.stop(2.0)
            await config_context.close()
            await env.context.close()
        log_lines = [json.loads(line) for line in (await proc.stdout.read()).decode().splitlines() if line.strip()]
        messages = [line["msg"] for line in log_lines]
        print("\n".join(messages))

        assert signalled.is_set(), "the call never reached the recording"
        assert code == 0
        stop_at = next(i for i, m in enumerate(messages) if m.startswith("stop requested; draining"))
        result_at = next(i for i, m in enumerate(messages) if m.startswith("voicemail result"))
        assert stop_at < result_at, "the session ended before the SIGTERM: nothing was drained"
        assert not any("still running after" in m for m in messages), "a session had to be cancelled"
        # the recording was taken, uploaded and stored: one new message with its audio
        assert out.call.uploads, "the gateway uploaded nothing"
    # the contexts closed the store they shared; read the file afresh, as the next replica would
    async with open_store(store_url) as store:
        env.store = store
        saved = await env.messages()
        assert len(saved) == 1, saved
        message = saved[0]
        audio = b""
        for db in await store.list_dbs():
            if layout.is_modb(db) and message["_id"] in [d["_id"] for d in await store.vm_messages(db, ids.box)]:
                audio = await store.get_attachment(db, message["_id"], message["media_filename"])
        assert len(audio) > 0
    # nothing waits in the spool: stored, not merely spooled
    assert not list((tmp_path / "spool").glob("*.json"))
