"""What is installed: services and ``kzvoice`` sub-commands register themselves as entry points.

The runtime names no service.  Each package lists what it offers in the packaging
metadata (``[project.entry-points]`` in ``pyproject.toml``), and this module reads those
lists with ``importlib.metadata``:

* ``kzvoice.services``: ``<service name> = "<module>:<ServiceEntry>"`` (``services/runtime.py``);
* ``kzvoice.commands``: ``<command> = "<module>:<register function>"`` (``services/cli.py``).

An entry point is only imported when it is needed, and one that cannot be imported
raises ``PluginError`` naming the group, the entry point and the import error.  The
metadata is written when the package is installed: after changing the entry points in
``pyproject.toml``, install again (``make venv`` does it when pyproject.toml changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Callable, Iterable

SERVICES_GROUP = "kzvoice.services"
COMMANDS_GROUP = "kzvoice.commands"

EntryPointSource = Callable[[str], Iterable[metadata.EntryPoint]]


class PluginError(RuntimeError):
    """An entry point that cannot be imported, or that is not what its group expects."""


def installed(group: str) -> Iterable[metadata.EntryPoint]:
    """The entry points of ``group`` in the installed distributions (the default source)."""
    return metadata.entry_points(group=group)


@dataclass(frozen=True)
class Plugin:
    """One entry point: its name, and ``module:attribute`` as the metadata writes it."""

    group: str
    name: str
    target: str
    entry_point: metadata.EntryPoint

    def load(self) -> object:
        try:
            return self.entry_point.load()
        except Exception as exc:
            raise PluginError(f"{self.group} entry point {self.name!r} ({self.target}) cannot be loaded: "
                              f"{type(exc).__name__}: {exc}") from exc


def plugins(group: str, source: EntryPointSource = installed) -> list[Plugin]:
    """The entry points of ``group``, by name; the first of two with the same name counts."""
    found: dict[str, Plugin] = {}
    for entry in source(group):
        found.setdefault(entry.name, Plugin(group, entry.name, entry.value, entry))
    return [found[name] for name in sorted(found)]
