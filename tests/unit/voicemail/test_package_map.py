"""The voicemail map of docs/voicemail.md holds: each room imports only the rooms below it, and no module
of voicemail_svc imports itself back through another (lazy and type-only imports count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import voicemail_svc

PACKAGE = Path(voicemail_svc.__file__).parent

# room -> the voicemail rooms it may import (docs/voicemail.md, "The map"); services/ is open to all
MAY_IMPORT: dict[str, set[str]] = {
    "call_control": set(),
    "prompts": {"call_control"},
    "boxes": {"call_control"},
    "storage": {"boxes"},
    "notify": {"boxes", "storage"},
    "deps": {"boxes", "storage", "call_control"},
    "listener": {"call_control"},
    "message_audio": set(),
    "compose": {"deps", "boxes", "storage", "notify", "call_control", "prompts"},
    "check": {"deps", "boxes", "storage", "notify", "call_control", "prompts"},
    "app": {"deps", "boxes", "storage", "notify", "call_control", "prompts", "listener", "message_audio", "compose",
            "check"},
    "__main__": set(),
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("voicemail_svc",) + path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The voicemail_svc modules ``path`` imports anywhere in its text."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {name for name in names if name in known}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, known) - {name} for name, path in known.items()}


def test_every_room_of_voicemail_svc_is_on_the_map():
    assert {room(m) for m in modules()} - {""} == set(MAY_IMPORT)


def test_each_room_imports_only_the_rooms_the_map_allows():
    wrong = sorted(f"{module} imports {target}" for module, targets in graph().items() for target in targets
                   if room(module) and room(target) != room(module) and room(target) not in MAY_IMPORT[room(module)])
    assert wrong == []


def test_no_import_cycles_inside_voicemail_svc():
    edges = {module: {t for t in targets if t != "voicemail_svc"} for module, targets in graph().items()}
    cycles = []
    state: dict[str, int] = {}            # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []
