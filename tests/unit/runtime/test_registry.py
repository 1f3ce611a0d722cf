"""Services and sub-commands come from entry points (services/registry.py): the installed ones,
and what happens when one is broken, unknown or ordered after another."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from services import cli, registry
from services.runtime import NoServices, Runtime, ServiceEntry, load_services, registered_services, start_order
from services.settings import Settings


def source(group: str, **targets: str):
    """An entry-point source holding ``name = target`` in ``group`` only."""
    def entries(wanted: str):
        return [EntryPoint(name, value, group) for name, value in targets.items()] if wanted == group else []
    return entries


def services(**targets: str):
    return source(registry.SERVICES_GROUP, **targets)


def commands(**targets: str):
    return source(registry.COMMANDS_GROUP, **targets)


def build_a(context):            # stand-ins registered by the tests below (as "tests.unit.runtime...")
    raise AssertionError("not built in these tests")


def build_b(context):
    raise AssertionError("not built in these tests")


HERE = __name__
ENTRY_A = ServiceEntry(build=build_a)
ENTRY_B_AFTER_A = ServiceEntry(build=build_b, starts_after=("a",))
NOT_A_SERVICE = 42


# ---- what this installation registers -----------------------------------------------------

def test_the_installed_services_are_registered_and_load_config_first():
    assert registered_services() == ["callflow", "config", "voicemail"]
    factories = load_services()
    assert list(factories) == ["config", "callflow", "voicemail"]
    assert all(callable(f) for f in factories.values())


def test_every_installed_command_loads_and_kzvoice_help_lists_it(capsys):
    names = [p.name for p in registry.plugins(registry.COMMANDS_GROUP)]
    assert names == ["call", "config", "db", "demo", "import", "prompts", "run"]
    for plugin in registry.plugins(registry.COMMANDS_GROUP):
        assert callable(plugin.load())
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in names:
        assert f"    {name} " in out
    assert "cannot be loaded" not in out


# ---- loading services ---------------------------------------------------------------------

def test_services_start_after_the_ones_they_name_and_keep_the_given_order_otherwise():
    entries = {"b": ENTRY_B_AFTER_A, "c": ServiceEntry(build=build_b), "a": ENTRY_A}
    assert start_order(entries) == ["c", "a", "b"]
    assert start_order({"b": ENTRY_B_AFTER_A}) == ["b"]            # "a" does not run here: no wait


def test_services_waiting_for_each_other_are_refused():
    entries = {"a": ServiceEntry(build=build_a, starts_after=("b",)), "b": ENTRY_B_AFTER_A}
    with pytest.raises(NoServices, match="wait for each other"):
        start_order(entries)


def test_a_service_registered_as_a_bare_build_function_loads():
    factories = load_services(None, services(b=f"{HERE}:ENTRY_B_AFTER_A", a=f"{HERE}:build_a"))
    assert list(factories) == ["a", "b"]
    assert factories["a"] is build_a and factories["b"] is build_b


def test_a_service_that_cannot_be_imported_is_a_clear_error():
    broken = services(a=f"{HERE}:ENTRY_A", gone="no_such_package.app:SERVICE")
    assert load_services(["a"], broken) == {"a": build_a}           # the others are not imported
    with pytest.raises(NoServices) as caught:
        load_services(None, broken)
    message = str(caught.value)
    assert "'gone'" in message and "no_such_package.app:SERVICE" in message
    assert "ModuleNotFoundError" in message and "kzvoice.services" in message


def test_an_entry_point_that_is_not_a_service_is_a_clear_error():
    with pytest.raises(NoServices, match=r"'odd': .*:NOT_A_SERVICE is a int"):
        load_services(None, services(odd=f"{HERE}:NOT_A_SERVICE"))


def test_unknown_and_missing_services_are_named():
    with pytest.raises(NoServices, match="unknown service.*: nosuch; known: a"):
        load_services(["nosuch"], services(a=f"{HERE}:ENTRY_A"))
    with pytest.raises(NoServices, match="no services are installed.*pip install -e"):
        load_services(None, services())


def test_runtime_with_an_unknown_service_says_which_exist():
    with pytest.raises(NoServices, match="unknown service.*: nosuch; known: callflow, config, voicemail"):
        Runtime(Settings.from_env({"KZ_AMQP_URL": "memory://"}), ["nosuch"])


# ---- the command line ---------------------------------------------------------------------

def register_hello(subparsers):
    parser = subparsers.add_parser("hello", help="say hello")
    parser.set_defaults(func=lambda args: print("hello") or 0)


def test_a_command_that_cannot_be_loaded_is_listed_and_explains_itself(capsys):
    entries = commands(hello=f"{HERE}:register_hello", broken="no_such_module:register")
    assert cli.main(["hello"], source=entries) == 0
    assert capsys.readouterr().out == "hello\n"
    with pytest.raises(SystemExit):
        cli.main(["--help"], source=entries)
    assert "broken    (cannot be loaded: run it to see why)" in capsys.readouterr().out
    assert cli.main(["broken", "--any", "arg"], source=entries) == cli.EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert err.startswith("kzvoice broken: kzvoice.commands entry point 'broken' (no_such_module:register) "
                          "cannot be loaded: ModuleNotFoundError")


def test_without_commands_the_help_says_to_install(capsys):
    assert cli.main([], source=commands()) == 2
    assert "No commands are installed" in capsys.readouterr().out


def test_two_entry_points_of_one_name_count_once():
    def twice(group):
        return [EntryPoint("x", f"{HERE}:build_a", group), EntryPoint("x", f"{HERE}:build_b", group)]
    [plugin] = registry.plugins(registry.SERVICES_GROUP, twice)
    assert plugin.load() is build_a
