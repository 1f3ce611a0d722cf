"""The ``kzvoice`` command line.

Each sub-command lives in the package it belongs to and registers itself as a
``kzvoice.commands`` entry point (``pyproject.toml``; ``services/registry.py``) named
like the command: ``<command> = "<module>:<function>"``.  The function takes the
sub-parsers and adds its parser with ``set_defaults(func=...)``, where ``func`` takes the
parsed arguments and returns the process exit code.  ``kzvoice --help`` lists the
commands by name.

A command whose module cannot be imported is still listed; running it prints why and
exits with ``EXIT_UNAVAILABLE``, and the other commands keep working.
"""

from __future__ import annotations

import argparse
import sys

from services import registry

EXIT_UNAVAILABLE = 3


def build_parser(source: registry.EntryPointSource = registry.installed) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kzvoice",
        description="KAZOO-compatible call routing, voicemail and configuration services.",
        epilog="Configuration comes from KZ_* environment variables; see README.md.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    commands = registry.plugins(registry.COMMANDS_GROUP, source)
    for plugin in commands:
        try:
            register = plugin.load()
        except registry.PluginError as exc:
            _unavailable(subparsers, plugin.name, str(exc))
            continue
        register(subparsers)
    if not commands:
        parser.epilog = (f"No commands are installed ({registry.COMMANDS_GROUP} entry points): install the "
                         f"package, e.g. pip install -e .")
    return parser


def _unavailable(subparsers: argparse._SubParsersAction, name: str, reason: str) -> None:
    """A parser for a command that cannot be loaded: it says so instead of vanishing."""
    parser = subparsers.add_parser(name, help="(cannot be loaded: run it to see why)", add_help=False,
                                   description=reason, prefix_chars="\x00")   # every argument is taken as is
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def explain(_args: argparse.Namespace) -> int:
        print(f"kzvoice {name}: {reason}", file=sys.stderr)
        return EXIT_UNAVAILABLE

    parser.set_defaults(func=explain)


def main(argv: list[str] | None = None, *, source: registry.EntryPointSource = registry.installed) -> int:
    parser = build_parser(source)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
