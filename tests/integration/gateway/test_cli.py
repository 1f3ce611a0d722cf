"""``kzvoice call`` against a fake app on the real broker, with a SQLite store holding the device."""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import sys
import wave
from pathlib import Path

import pytest

from gateway_sim import seed_account, seed_device, seed_user
from services.cli import main
from services.store import open_store
from testkit.media import tone
from tests.integration.gateway.conftest import AppCall, noop, play, ALL_KEYS

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
async def seeded(tmp_path, account_id):
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"       # an absolute path: four slashes
    async with open_store(url) as store:
        await store.init_db()
        await seed_account(store, account_id, realm="cli.example.com")
        owner = await seed_user(store, account_id, first_name="Cli", caller_id_number="2001")
        device = await seed_device(store, account_id, username="cli_2001", owner_id=owner["_id"])
    return url, device["_id"]


def cli_env(amqp_url: str, store_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"KZ_AMQP_URL": amqp_url, "KZ_STORE_URL": store_url, "KZ_LOG_LEVEL": "warning"})
    return env


async def serve_one_call(app_call: AppCall) -> str:
    await app_call.send("answer")
    await app_call.queue([noop(), play("vm-enter_pass", terminators=ALL_KEYS)])
    digits = ""
    while True:
        event = await app_call.wait_for("DTMF", timeout=5)
        if event["DTMF-Digit"] == "#":
            break
        digits += event["DTMF-Digit"]
    await app_call.queue([noop(), play("vm-goodbye")])
    await app_call.wait_for("CHANNEL_DESTROY", timeout=5)
    return digits


async def test_cli_call_runs_a_scripted_call_and_prints_its_transcript(amqp_url, app, account_id, seeded, tmp_path):
    store_url, device_id = seeded
    heard = tmp_path / "heard.wav"
    script = json.dumps({"steps": [{"on": "prompt", "name": "vm-enter_pass", "press": "1234#"},
                                   {"on": "prompt", "name": "vm-goodbye", "hangup": True}]})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "call", "--account", account_id, "--device", device_id,
        "--dial", "*97", "--script", script, "--json", "--time-scale", "0.01", "--linger", "0.1",
        "--audio-out", str(heard), cwd=REPO, env=cli_env(amqp_url, store_url), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    app_call = await app.next_call(timeout=15)
    digits = await serve_one_call(app_call)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()
    assert digits == "1234"
    result = json.loads(stdout)
    assert result["status"] == "completed" and result["hung_up_by"] == "caller"
    assert result["prompts"] == ["vm-enter_pass", "vm-goodbye"] and result["digits"] == "1234#"
    assert any(step["kind"] == "command" and step["text"].startswith("queue") for step in result["transcript"])
    # both prompts came from the media responder (media_req + GET) ...
    placeholder = tone()
    assert [(m["label"], m["via"], m["ok"], m["bytes"]) for m in result["media"]] == \
        [("vm-enter_pass", "media_req", True, len(placeholder)), ("vm-goodbye", "media_req", True, len(placeholder))]
    # ... and --audio-out holds their samples, one after the other
    with wave.open(str(heard), "rb") as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (8000, 1, 2)
        written = reader.readframes(reader.getnframes())
    with wave.open(io.BytesIO(placeholder), "rb") as reader:
        samples = reader.readframes(reader.getnframes())
    assert written == samples + samples
    assert "wrote 3.0 s" in stderr.decode()
    req = app_call.route_req
    assert req["Custom-Channel-Vars"]["Authorizing-ID"] == device_id
    assert req["Caller-ID-Number"] == "2001" and req["Request"] == "*97@cli.example.com"


def test_cli_call_without_any_router_is_rejected_like_604(amqp_url, seeded, account_id, monkeypatch, capsys):
    store_url, device_id = seeded
    monkeypatch.setenv("KZ_AMQP_URL", amqp_url)
    monkeypatch.setenv("KZ_STORE_URL", store_url)
    code = main(["call", "--account", account_id, "--device", device_id, "--dial", "*97",
                 "--route-timeout", "0.3", "--linger", "0.1"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "rejected: 604 no available handlers" in out
    assert err.strip().count("\n") == 0 and "604" in err and err.startswith("kzvoice call:")


def test_cli_call_from_an_unknown_device_is_a_clear_error(amqp_url, seeded, account_id, monkeypatch, capsys):
    store_url, _device_id = seeded
    monkeypatch.setenv("KZ_AMQP_URL", amqp_url)
    monkeypatch.setenv("KZ_STORE_URL", store_url)
    code = main(["call", "--account", account_id, "--device", secrets.token_hex(16), "--dial", "*97"])
    err = capsys.readouterr().err
    assert code == 3 and err.startswith("kzvoice call: no device ") and err.count("\n") == 1


def test_cli_call_with_the_broker_unreachable_is_a_clear_error(seeded, account_id, monkeypatch, capsys):
    store_url, device_id = seeded
    monkeypatch.setenv("KZ_AMQP_URL", "amqp://guest:secret-pw@127.0.0.1:1/")
    monkeypatch.setenv("KZ_STORE_URL", store_url)
    code = main(["call", "--account", account_id, "--device", device_id, "--dial", "*97"])
    err = capsys.readouterr().err
    assert code == 4 and err.startswith("kzvoice call: broker unreachable at amqp://127.0.0.1:1/")
    assert "secret-pw" not in err and err.count("\n") == 1


def test_cli_call_with_a_bad_script_is_a_usage_error(monkeypatch, capsys, account_id):
    code = main(["call", "--account", account_id, "--device", "d", "--dial", "*97",
                 "--script", '{"steps": [{"on": "prompt"}]}'])
    err = capsys.readouterr().err
    assert code == 2 and "bad script: step 1: a prompt step needs a name" in err
