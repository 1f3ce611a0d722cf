"""``kzvoice config ...`` end to end: the CLI in a subprocess against config_svc running in the test."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from services.store import layout
from tests.integration.config.conftest import get_doc, put_doc, system_doc

SC = layout.SYSTEM_CONFIG_DB
REPO = Path(__file__).resolve().parents[3]
ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"


def kzvoice_command() -> list[str]:
    script = Path(sys.executable).with_name("kzvoice")
    return [str(script)] if script.exists() else [sys.executable, "-m", "services.cli"]


async def kzvoice(*args: str, amqp_url: str) -> tuple[int, str, str]:
    env = {**os.environ, "KZ_AMQP_URL": amqp_url, "KZ_LOG_LEVEL": "warning",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = await asyncio.create_subprocess_exec(*kzvoice_command(), "config", *args, cwd=str(REPO), env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


def one_error_line(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kzvoice config: ")
    for fragment in fragments:
        assert fragment in lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_cli_set_default_like_sup(config_svc, store, amqp_url):
    await system_doc(store, "callflow", default={"route_win_timeout": 3000})
    rc, out, err = await kzvoice("set-default", "callflow", "dialog_subscribed_mwi_prefix", "*98", amqp_url=amqp_url)
    assert (rc, err) == (0, "")
    assert out.strip() == "callflow dialog_subscribed_mwi_prefix = \"*98\" (section 'default')"
    doc = await get_doc(store, SC, "callflow")
    assert doc["default"] == {"route_win_timeout": 3000, "dialog_subscribed_mwi_prefix": "*98"}
    rc, out, err = await kzvoice("get", "callflow", "dialog_subscribed_mwi_prefix", amqp_url=amqp_url)
    assert (rc, out.strip(), err) == (0, '"*98"', "")


async def test_cli_values_keys_and_sections(config_svc, store, amqp_url):
    await system_doc(store, "callflow", default={"voicemail": {"extension": "mp3"}, "gone": 1})
    assert (await kzvoice("set", "callflow", "voicemail.max_message_count", "50", amqp_url=amqp_url))[0] == 0
    assert (await kzvoice("set", "callflow", "as_text", "50", "--string", amqp_url=amqp_url))[0] == 0
    assert (await kzvoice("set", "callflow", "a.b", "true", "--literal-key", amqp_url=amqp_url))[0] == 0
    assert (await kzvoice("set", "callflow", "gone", "null", amqp_url=amqp_url))[0] == 0
    rc, _, err = await kzvoice("set-node", "callflow", "route_win_timeout", "2500", "--node", "svc@h1",
                               amqp_url=amqp_url)
    assert (rc, err) == (0, "")
    doc = await get_doc(store, SC, "callflow")
    assert doc["default"] == {"voicemail": {"extension": "mp3", "max_message_count": 50}, "as_text": "50",
                              "a.b": True}
    assert doc["svc@h1"] == {"route_win_timeout": 2500}
    rc, out, _ = await kzvoice("get", "callflow", "route_win_timeout", "--node", "svc@h1", amqp_url=amqp_url)
    assert (rc, out.strip()) == (0, "2500")
    rc, out, _ = await kzvoice("get", "callflow", "route_win_timeout", amqp_url=amqp_url)
    assert (rc, out.strip()) == (0, "undefined")
    rc, out, _ = await kzvoice("get", "callflow", "voicemail", amqp_url=amqp_url)
    assert (rc, out.strip()) == (0, '{"extension": "mp3", "max_message_count": 50}')
    rc, out, err = await kzvoice("flush", "callflow", amqp_url=amqp_url)
    assert (rc, out.strip(), err) == (0, "flush_req published for callflow", "")


async def test_cli_account_override(config_svc, store, amqp_url):
    await put_doc(store, layout.account_db(ACCOUNT), {"_id": ACCOUNT, "pvt_type": "account", "pvt_tree": []})
    rc, out, err = await kzvoice("set", "callflow", "dialog_subscribed_mwi_prefix", "*97", "--account", ACCOUNT,
                                 amqp_url=amqp_url)
    assert (rc, err) == (0, ""), err
    assert f"account {ACCOUNT}" in out
    assert (await get_doc(store, layout.account_db(ACCOUNT), "configs_callflow"))["dialog_subscribed_mwi_prefix"] \
        == "*97"
    rc, out, _ = await kzvoice("get", "callflow", "dialog_subscribed_mwi_prefix", "--account",
                               layout.account_db(ACCOUNT, encoded=True), "--strategy", "account", amqp_url=amqp_url)
    assert (rc, out.strip()) == (0, '"*97"')


@pytest.mark.parametrize("action", ["set", "get"])
async def test_cli_unknown_account(config_svc, store, amqp_url, action):
    unknown = "0123456789abcdef0123456789abcdef"
    args = [action, "callflow", "k"] + (["1"] if action == "set" else []) + ["--account", unknown]
    rc, out, err = await kzvoice(*args, amqp_url=amqp_url)
    assert rc == 1 and out == ""
    one_error_line(err, unknown, "does not exist")
    assert not await store.db_exists(layout.account_db(unknown))


async def test_cli_malformed_account(amqp_url):
    rc, out, err = await kzvoice("get", "callflow", "k", "--account", "nope", amqp_url=amqp_url)
    assert rc == 2 and out == ""
    one_error_line(err, "unknown account 'nope'")


@pytest.mark.parametrize("value, extra", [('{"a":', []), ("[1,2", []), ("abc", ["--json"])])
async def test_cli_bad_json(config_svc, store, amqp_url, value, extra):
    rc, out, err = await kzvoice("set", "c-json", "k", value, *extra, amqp_url=amqp_url)
    assert rc == 2 and out == ""
    one_error_line(err, "not valid JSON", "--string")
    assert await get_doc(store, SC, "c-json") is None


async def test_cli_broker_unreachable():
    url = f"amqp://guest:guest@127.0.0.1:{closed_port()}/"
    rc, out, err = await kzvoice("get", "callflow", "k", "--timeout", "5", amqp_url=url)
    assert rc == 4 and out == ""
    one_error_line(err, "broker unreachable", "127.0.0.1")
    assert "guest:guest" not in err


async def test_cli_no_config_svc(amqp_url):
    rc, out, err = await kzvoice("get", "callflow", "k", "--timeout", "0.5", amqp_url=amqp_url)
    assert rc == 3 and out == ""
    one_error_line(err, "no reply from config_svc within 0.5s")


async def test_cli_locked(start_config_svc, store, amqp_url):
    await start_config_svc(locked=True)
    rc, out, err = await kzvoice("set-default", "callflow", "k", "1", amqp_url=amqp_url)
    assert rc == 1 and out == ""
    one_error_line(err, "locked")


async def test_cli_help(amqp_url):
    rc, out, _ = await kzvoice("--help", amqp_url=amqp_url)
    assert rc == 0
    for word in ("get", "set", "set-default", "set-node", "flush", "VALUE", "JSON", "exit status"):
        assert word in out
    rc, out, _ = await kzvoice("set-node", "--help", amqp_url=amqp_url)
    assert rc == 0 and "--node NODE" in out
