"""The layering of the project, read from the source (docs/architecture.md, "What may import what").

Every ``import`` of the production packages is read with ``ast`` -- at module level, inside
functions and under ``TYPE_CHECKING`` alike -- and importing ``a.b.c`` also counts as importing
the packages ``a`` and ``a.b`` whose ``__init__`` runs first.  From that graph:

* no cycles between modules, nor between the parts of the project (each sub-package of
  ``services``, each top-level module of ``services``, each service package);
* a service package imports only ``services`` and itself, never another service package;
* ``services`` names no service package, not even in a string or a comment;
* no production package imports ``bench``, ``tests`` or ``testkit``, also not by name through
  ``importlib``; ``testkit`` imports neither ``bench`` nor ``tests``, and ``bench`` not ``tests``.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME = "services"
SERVICE_PACKAGES = ("callflow_svc", "config_svc", "gateway_sim", "voicemail_svc")
PRODUCTION = (RUNTIME, *SERVICE_PACKAGES)
TEST_ONLY = ("bench", "tests", "testkit")

# Cycles tolerated for now; each must still exist (the test says when an entry can go), and no
# other cycle may appear.
KNOWN_CYCLES: set[frozenset[str]] = set()
# bench modules tolerated importing tests/ (none).
KNOWN_BENCH_IMPORTS_OF_TESTS: set[str] = set()


def module_files(top: str) -> dict[str, Path]:
    found = {}
    for path in sorted((REPO / top).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES: dict[str, Path] = {}
for _top in PRODUCTION + TEST_ONLY:
    MODULES.update(module_files(_top))


def top_of(name: str) -> str:
    return name.split(".", 1)[0]


def imported_names(module: str, path: Path) -> Iterable[str]:
    """Every module name ``module`` imports, as written (relative imports resolved)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:                # ``from pkg import module`` needs the module only
                submodule = f"{origin}.{alias.name}"
                yield submodule if submodule in MODULES else origin


def project_module(name: str) -> str | None:
    """The module of the project that importing ``name`` loads (nearest existing), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def graph() -> dict[str, set[str]]:
    """module -> the project modules it makes Python import (including the packages on the way)."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name in imported_names(module, path):
            target = project_module(name)
            if target is None or target == module:
                continue
            edges[module].add(target)
            parts = target.split(".")
            for depth in range(1, len(parts)):          # the packages whose __init__ runs first
                package = ".".join(parts[:depth])
                if not (module == package or module.startswith(package + ".")):
                    edges[module].add(package)
    return edges


GRAPH = graph()


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one node (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def part_of(module: str) -> str:
    """services.bus.amqp -> services.bus; services.runtime -> services.runtime; callflow_svc.x -> callflow_svc."""
    parts = module.split(".")
    if parts[0] == RUNTIME and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def production_modules() -> dict[str, Path]:
    return {m: p for m, p in MODULES.items() if top_of(m) in PRODUCTION}


# ---- the list of packages is the installed one -------------------------------------------------

def test_the_packages_checked_here_are_the_ones_pyproject_installs():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    installed = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert installed == set(PRODUCTION) | {"testkit"}
    for group in ("kzvoice.services", "kzvoice.commands"):
        targets = pyproject["project"]["entry-points"][group].values()
        assert {top_of(t) for t in targets} <= set(PRODUCTION), group


def test_the_graph_sees_the_imports():
    """The reader finds what is plainly there, so the checks below are not vacuous."""
    assert "services.bus" in GRAPH["services.runtime"]
    assert "services.routing.lookup" in GRAPH["callflow_svc.app"]
    assert "services" in GRAPH["callflow_svc.app"]                      # the package on the way
    assert "gateway_sim.channel.execution" in GRAPH["gateway_sim.channel.playback"]
    assert {"services.routing.cache", "services.routing.lookup"} <= GRAPH["voicemail_svc.app"]  # in a function


# ---- cycles ----------------------------------------------------------------------------------

def test_no_import_cycles_between_modules():
    found = set(cycles(GRAPH))
    new = sorted(sorted(c) for c in found - KNOWN_CYCLES)
    assert new == [], f"import cycles: {new}"
    gone = sorted(sorted(c) for c in KNOWN_CYCLES - found)
    assert gone == [], f"these cycles are gone: remove them from KNOWN_CYCLES: {gone}"


def test_no_import_cycles_between_parts():
    parts: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        if top_of(module) not in PRODUCTION:
            continue
        mine = parts.setdefault(part_of(module), set())
        mine.update(part_of(t) for t in targets if part_of(t) != part_of(module))
    for targets in list(parts.values()):
        for target in targets:
            parts.setdefault(target, set())
    assert cycles(parts) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]


# ---- who may import whom -----------------------------------------------------------------------

@pytest.mark.parametrize("package", SERVICE_PACKAGES)
def test_a_service_package_imports_only_the_runtime_and_itself(package):
    wrong = sorted((m, t) for m, targets in GRAPH.items() if top_of(m) == package
                   for t in targets if top_of(t) not in (package, RUNTIME))
    assert wrong == []


def test_the_runtime_imports_no_service_package():
    wrong = sorted((m, t) for m, targets in GRAPH.items() if top_of(m) == RUNTIME
                   for t in targets if top_of(t) != RUNTIME)
    assert wrong == []


def test_the_runtime_names_no_service_package_even_in_text():
    pattern = re.compile(r"\b(" + "|".join(SERVICE_PACKAGES) + r")\b")
    named = sorted(f"{path.relative_to(REPO)}:{number}: {line.strip()}"
                   for module, path in MODULES.items() if top_of(module) == RUNTIME
                   for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                   if pattern.search(line))
    assert named == []


def test_production_code_imports_no_test_or_bench_code():
    wrong = sorted((m, t) for m, targets in GRAPH.items() if top_of(m) in PRODUCTION
                   for t in targets if top_of(t) in TEST_ONLY)
    assert wrong == []


def test_production_code_names_no_test_or_bench_module_to_import():
    """``importlib.import_module("bench.x")`` is an import the graph cannot see: no such string."""
    pattern = re.compile(r"^(" + "|".join(TEST_ONLY) + r")(\.|$)")
    named = sorted(f"{path.relative_to(REPO)}: {node.value!r}"
                   for path in production_modules().values()
                   for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                   if isinstance(node, ast.Constant) and isinstance(node.value, str) and pattern.match(node.value))
    assert named == []


def test_testkit_imports_neither_tests_nor_bench():
    wrong = sorted((m, t) for m, targets in GRAPH.items() if top_of(m) == "testkit"
                   for t in targets if top_of(t) in ("tests", "bench"))
    assert wrong == []


def test_bench_imports_testkit_not_tests():
    importing = {m for m, targets in GRAPH.items() if top_of(m) == "bench"
                 if any(top_of(t) == "tests" for t in targets)}
    assert importing - KNOWN_BENCH_IMPORTS_OF_TESTS == set()
    gone = KNOWN_BENCH_IMPORTS_OF_TESTS - importing
    assert gone == set(), f"these no longer import tests/: remove them from KNOWN_BENCH_IMPORTS_OF_TESTS: {gone}"
