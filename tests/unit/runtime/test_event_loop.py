"""KZ_EVENT_LOOP: parsed with the other settings, and applied where the runtime runs its loop."""

import asyncio
import builtins

import pytest

from services.runtime import EventLoopUnavailable, run_async, run_services
from services.settings import Settings, SettingsError


def test_default_is_asyncio():
    assert Settings.from_env({}).event_loop == "asyncio"
    assert Settings.from_env({"KZ_EVENT_LOOP": ""}).event_loop == "asyncio"


@pytest.mark.parametrize("raw, expected", [("asyncio", "asyncio"), ("uvloop", "uvloop"), (" UVLoop ", "uvloop")])
def test_values_are_read(raw, expected):
    assert Settings.from_env({"KZ_EVENT_LOOP": raw}).event_loop == expected


def test_a_bad_value_names_the_variable_and_the_allowed_values():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"KZ_EVENT_LOOP": "trio"})
    message = str(caught.value)
    assert "KZ_EVENT_LOOP" in message and "'trio'" in message
    assert "asyncio" in message and "uvloop" in message


async def _loop_type() -> str:
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__name__}"


def test_the_default_runs_on_asyncio_s_own_loop():
    assert run_async(_loop_type(), "asyncio").startswith("asyncio.")


def test_uvloop_runs_on_uvloop_when_asked():
    pytest.importorskip("uvloop")
    assert run_async(_loop_type(), "uvloop").startswith("uvloop")
    # and the standard loop again afterwards: no policy left behind
    assert run_async(_loop_type(), "asyncio").startswith("asyncio.")


def test_uvloop_missing_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_uvloop(name, *args, **kwargs):
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    with pytest.raises(EventLoopUnavailable, match=r"uvloop is not installed.*kzvoice\[fast\]"):
        run_async(_loop_type(), "uvloop")


def test_run_services_exits_2_when_uvloop_is_missing(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_uvloop(name, *args, **kwargs):
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real_import(name, *args, **kwargs)

    async def never_built(_context):
        raise AssertionError("no service may start")

    monkeypatch.setattr("services.logging.configure", lambda *_args: None)     # leave the test's logging alone
    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    settings = Settings.from_env({"KZ_EVENT_LOOP": "uvloop", "KZ_AMQP_URL": "memory://", "KZ_STORE_URL": "memory://"})
    assert run_services(None, settings, factories={"x": never_built}) == 2
    assert "uvloop is not installed" in capsys.readouterr().out
