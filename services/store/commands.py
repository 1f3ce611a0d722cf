"""``kzvoice import DIR`` and ``kzvoice db init``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Awaitable, Callable

from . import open_store
from .importer import import_tree
from .interface import StoreError


def register_import(subparsers: argparse._SubParsersAction) -> None:
    load = subparsers.add_parser(
        "import",
        help="load KAZOO documents (dbs/<db name>/docs/<doc id>.json) into the store",
        description="Load a folder laid out as dbs/<URL-encoded database name>/docs/<doc id>.json "
                    "into the store named by KZ_STORE_URL. Safe to repeat: unchanged documents "
                    "are left alone, changed ones are updated.",
    )
    load.add_argument("directory", type=Path, help="the folder holding dbs/ (or the dbs folder itself)")
    load.set_defaults(func=run_import)


def register_db(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="store maintenance (db init)")
    actions = db.add_subparsers(title="actions", metavar="ACTION")
    init = actions.add_parser("init", help="create the system databases and install the query views")
    init.set_defaults(func=run_db_init)
    db.set_defaults(func=lambda args: usage(db))


def usage(parser: argparse.ArgumentParser) -> int:
    """A command group run without its action: its help on stderr, exit status 2."""
    parser.print_help(sys.stderr)
    return 2


def command_settings():
    """The settings of a command that works on the store, with logging configured."""
    from services.logging import configure
    from services.settings import Settings

    settings = Settings.from_env()
    configure(settings.log_level, settings.log_format)
    return settings


def run_on_store(command: str, main: Callable[[], Awaitable[int]]) -> int:
    """Run ``main``; a store failure is one line on stderr and exit status 1."""
    try:
        return asyncio.run(main())
    except StoreError as exc:
        print(f"kzvoice {command}: {exc}", file=sys.stderr)
        return 1


def run_import(args: argparse.Namespace) -> int:
    settings = command_settings()
    root: Path = args.directory
    if not root.is_dir():
        print(f"kzvoice import: {root}: no such folder", file=sys.stderr)
        return 2

    async def main() -> int:
        async with open_store(settings.store_url) as store:
            report = await import_tree(
                store, root,
                progress=lambda line: print(line, flush=True),
                error=lambda line: print(f"error: {line}", file=sys.stderr, flush=True),
            )
        print(report.summary(), flush=True)
        return 1 if report.errors else 0

    return run_on_store("import", main)


def run_db_init(args: argparse.Namespace) -> int:
    settings = command_settings()

    async def main() -> int:
        async with open_store(settings.store_url) as store:
            await store.init_db()
            names = await store.list_dbs()
        print(f"store ready: {len(names)} databases, views installed", flush=True)
        return 0

    return run_on_store("db init", main)
