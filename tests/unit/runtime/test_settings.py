"""Settings are parsed from the environment in one place, with clear errors."""

import pytest

from services.settings import ENVIRONMENT, Settings, SettingsError


def test_defaults_match_the_spec_table():
    s = Settings.from_env({})
    assert s.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert s.store_url == "sqlite:///./kzvoice.sqlite3"
    assert s.http_port == 8080
    assert s.node.startswith("kzvoice@")
    assert s.zone == "local"
    assert (s.log_level, s.log_format) == ("info", "text")


def test_gc_threshold_is_read():
    assert Settings.from_env({}).gc_gen0 == 50_000
    assert Settings.from_env({"KZ_GC_GEN0": "0"}).gc_gen0 == 0
    assert Settings.from_env({"KZ_GC_GEN0": "2000"}).gc_gen0 == 2000


def test_values_are_read():
    s = Settings.from_env({"KZ_AMQP_URL": "memory://", "KZ_STORE_URL": "memory://", "KZ_HTTP_PORT": "9000",
                           "KZ_NODE": "vm@pod-a", "KZ_ZONE": "eu", "KZ_LOG_LEVEL": "DEBUG",
                           "KZ_LOG_FORMAT": "json"})
    assert (s.amqp_url, s.store_url, s.http_port, s.node, s.zone, s.log_level, s.log_format) == \
        ("memory://", "memory://", 9000, "vm@pod-a", "eu", "debug", "json")


@pytest.mark.parametrize("env, fragment", [
    ({"KZ_HTTP_PORT": "http"}, "KZ_HTTP_PORT"),
    ({"KZ_HTTP_PORT": "70000"}, "KZ_HTTP_PORT"),
    ({"KZ_LOG_LEVEL": "loud"}, "KZ_LOG_LEVEL"),
    ({"KZ_LOG_FORMAT": "xml"}, "KZ_LOG_FORMAT"),
    ({"KZ_GC_GEN0": "-1"}, "KZ_GC_GEN0"),
    ({"KZ_GC_GEN0": "lots"}, "KZ_GC_GEN0"),
    ({"KZ_AMQP_URL": "nats://x"}, "KZ_AMQP_URL"),
    ({"KZ_STORE_URL": "postgres://x"}, "KZ_STORE_URL"),
    ({"KZ_AMQP_CA_FILE": "/nonexistent/ca.pem"}, "KZ_AMQP_CA_FILE"),
])
def test_bad_values_name_the_variable(env, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)


def test_every_variable_read_is_documented():
    import inspect
    import re
    import services.settings as mod
    read = set(re.findall(r'"(KZ_[A-Z0-9_]+)"', inspect.getsource(mod.Settings.from_env)))
    documented = {name for name, _, _ in ENVIRONMENT}
    assert read == documented


def test_readme_documents_every_variable():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    missing = [name for name, _, _ in ENVIRONMENT if f"`{name}`" not in readme]
    assert missing == []


# -- KZ_AMQP_URL as a list of brokers ----------------------------------------------------------

NODE_A = "amqp://kz:s%2Cecret@rabbit-0.example:5672/"
NODE_B = "amqps://kz:s%2Cecret@rabbit-1.example:5671/kazoo"


@pytest.mark.parametrize("raw", [
    f"{NODE_A},{NODE_B}",
    f"{NODE_A}, {NODE_B}",
    f" {NODE_A}\n{NODE_B} ",
    f"{NODE_A},,{NODE_B},",
])
def test_a_broker_list_is_split_on_commas_and_whitespace(raw):
    s = Settings.from_env({"KZ_AMQP_URL": raw})
    assert s.amqp_urls == (NODE_A, NODE_B)        # percent-encoding kept as written


def test_a_single_url_and_memory_are_lists_of_one():
    assert Settings.from_env({}).amqp_urls == ("amqp://guest:guest@127.0.0.1:5672/",)
    assert Settings.from_env({"KZ_AMQP_URL": "memory://demo"}).amqp_urls == ("memory://demo",)


@pytest.mark.parametrize("raw, fragment", [
    ("amqp://kz:hun,ter2@rabbit-0:5672/", "entry 1 of 2 .*invalid port.*%2C"),   # a raw comma splits
    ("amqp://kz:hunter2@rabbit-0:56x2/", "entry 1 of 1 .* invalid port"),
    ("amqp:///vhost", "names no host"),
    (f"{NODE_A},memory://", "memory:// cannot be combined"),
    (f"{NODE_A} {NODE_A}", "the same broker twice"),
    (" , ", "KZ_AMQP_URL is empty"),
])
def test_a_bad_broker_list_is_refused_without_echoing_passwords(raw, fragment):
    with pytest.raises(SettingsError, match=fragment) as refused:
        Settings.from_env({"KZ_AMQP_URL": raw})
    assert "hun" not in str(refused.value) and "ter2" not in str(refused.value)
    assert "s%2Cecret" not in str(refused.value)


def test_redacted_broker_list_for_error_messages():
    from services.settings import redact_urls
    assert redact_urls(f"{NODE_A},{NODE_B}") == "amqp://rabbit-0.example:5672/, amqps://rabbit-1.example:5671/kazoo"
