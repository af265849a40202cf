"""The rooms and their import rules (docs/architecture.md): the import-linter contracts in
pyproject.toml hold, breaking one fails `lint-imports`, and no product module is part of
an import cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("gateway", "engine", "resolvers", "commerce", "connectors", "sandbox")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_domain_importing_strawberry_breaks_a_contract(tmp_path: Path) -> None:
    for package in PRODUCT:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("node_modules", "__pycache__"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    service = tmp_path / "commerce" / "cart" / "service.py"
    service.write_text(service.read_text() + "\nimport strawberry  # noqa: E402\n")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "commerce.cart.service -> strawberry" in result.stdout
    assert "The commerce domain knows no GraphQL" in result.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_product_module_is_part_of_an_import_cycle() -> None:
    # in a process of its own, from the repository root: under pytest, tests/sandbox would
    # stand in for the product's sandbox package
    script = (
        "import json, sys, grimp; sys.path.insert(0, 'tests'); "
        "from test_architecture import PRODUCT, _cycles; "
        "print(json.dumps(_cycles(grimp.build_graph(*PRODUCT, cache_dir=None))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = result.stdout.strip().splitlines()[-1]
    assert modules == "[]", f"import cycles: {modules}"


def test_every_product_folder_is_a_package() -> None:
    """A folder without __init__.py is a namespace package, which grimp and import-linter
    do not look into: its imports would escape the contracts and the cycle check."""
    folders = {path.parent for package in PRODUCT for path in (ROOT / package).rglob("*.py")}
    assert (
        sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_room_holds_more_than_40_percent_of_the_product_lines() -> None:
    lines = {
        package: sum(len(path.read_text().splitlines()) for path in (ROOT / package).rglob("*.py"))
        for package in PRODUCT
    }
    total = sum(lines.values())
    assert {p: n for p, n in lines.items() if n > 0.4 * total} == {}
