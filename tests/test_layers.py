"""Imports run one way, down the flow of data (DESIGN.md, "The house").

What this enforces, by reading the source (the AST) of every module under
`src/oprun`, never by importing it:

- **Direction.** Each module has a rank along the flow (`RANKS`, longest prefix
  wins) and may import only modules of equal or lower rank. Every import counts:
  module level, inside functions, under `if TYPE_CHECKING:`, relative imports,
  `from oprun.x import y` where `y` is a submodule, `importlib.import_module(...)`
  and `__import__(...)` with a constant name, and any string constant that is
  exactly the dotted name of an oprun module (or `module:attr`), such as
  `"oprun.execution.run_worker"` passed to `python -m`. The package `oprun` itself
  (the lazy public surface) and `oprun.__main__` are the top: their own imports
  are not checked. Importing `oprun` itself ranks with the surfaces, which talk
  to the rest through the public Python API; from any lower layer it is an upward
  reference (the lazy re-exports would otherwise hide what it reaches).
- **The allowlist.** `ALLOWLIST` maps `(importing module, imported prefix)` to a
  one-sentence reason, for the few upward references Dagster's API forces (an op
  or a job you can call directly must reach execution). An entry nothing uses any
  more fails the test, so the list cannot rot.
- **No import cycles** among the imports that run when a module is imported
  (module level, not under `TYPE_CHECKING`). An import inside a function is the
  normal way to break a cycle, so those are checked for direction only.

The subprocess tests at the end check something else: import-time weight, that
is which heavy third-party libraries a command or `import oprun` loads.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

SRC = Path(__file__).resolve().parent.parent / "src"

# Rank along the flow; a module may import only modules of equal or lower rank.
RANKS = {
    "oprun.errors": 0,
    "oprun.events": 0,
    "oprun.runs": 0,
    "oprun.compat": 0,
    "oprun.files": 0,
    "oprun.clock": 0,
    "oprun.instigation": 0,
    "oprun.config": 1,
    "oprun.definitions": 2,
    "oprun.instance": 3,
    "oprun.execution": 4,
    "oprun.loading": 5,
    "oprun.daemon": 6,
    "oprun.cli": 7,
    "oprun.web": 7,
}
# The public surface and the `python -m oprun` entry point sit above every layer;
# their own imports are not checked. Importing them ranks with the surfaces (cli,
# web), which DESIGN.md has use the public Python API.
TOP = {"oprun", "oprun.__main__"}
TOP_RANK = max(RANKS.values())

# (importing module, imported module prefix) -> why Dagster's API forces it.
ALLOWLIST = {
    ("oprun.definitions.jobs.op", "oprun.execution.invocation"):
        "Dagster lets a test call an op directly, which runs its body with a built context.",
    ("oprun.definitions.jobs.job", "oprun.execution.api"):
        "`JobDefinition.execute_in_process` is a method of the definition in Dagster's API.",
    ("oprun.definitions.jobs.hooks", "oprun.execution.hooks"):
        "Dagster lets a test call a hook directly, which needs a hook context built by execution.",
    ("oprun.definitions.resources.resource", "oprun.execution.resources"):
        "Dagster lets a test call a resource directly, which needs an init context built by execution.",
    ("oprun.definitions.automation.tick_context", "oprun.instance"):
        "Dagster's `build_schedule_context`/`build_sensor_context` give a tick an (ephemeral) instance.",
    ("oprun.definitions.automation.tick_context", "oprun.execution.resources"):
        "Dagster's `build_schedule_context`/`build_sensor_context` build the resources a tick uses.",
    ("oprun.instance.instance", "oprun.execution.launcher"):
        "The instance loads its configured run launcher by name, as Dagster's `run_launcher: {module, class}`.",
    ("oprun.instance.instance", "oprun.execution.coordinator"):
        "The instance loads its configured run coordinator by name, as Dagster's `run_coordinator: {module, class}`.",
    ("oprun.instance.instance", "oprun.execution.prepare"):
        "Dagster's `DagsterInstance.create_run_for_job` records a run of a job, which needs the run prepared (config resolved, plan made).",
}
WHAT_TO_DO = "move the code down the flow, pass it in, or add an allowlist entry with a reason"


class Import(NamedTuple):
    importer: str
    imported: str
    file: Path
    line: int
    at_import_time: bool  # runs when the importer is imported (for cycles)


class Violation(NamedTuple):
    file: Path
    line: int
    importer: str
    importer_rank: int
    imported: str
    imported_rank: int

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.importer} (rank {self.importer_rank}) imports "
            f"{self.imported} (rank {self.imported_rank}), which is later in the flow; {WHAT_TO_DO}"
        )


# -- reading the tree ------------------------------------------------------------


def find_modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of the `oprun` package under `root`."""
    modules = {}
    for path in sorted((root / "oprun").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def rank(module: str) -> int | None:
    if module in TOP:
        return TOP_RANK
    matches = [prefix for prefix in RANKS if module == prefix or module.startswith(prefix + ".")]
    return RANKS[max(matches, key=len)] if matches else None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_relative(importer: str, is_package: bool, level: int, name: str | None) -> str:
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _string_reference(value: str, modules: dict[str, Path]) -> str | None:
    """The module a string constant names: `oprun.x.y` or `oprun.x.y:attr`, if it exists.

    A bare "oprun" is a program or logger name far more often than a module path.
    """
    name = value.split(":", 1)[0] if value.count(":") == 1 else value
    return name if name.startswith("oprun.") and name in modules else None


def _is_import_call(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )


class _ImportCollector(ast.NodeVisitor):
    """Collects every reference one module makes to another oprun module."""

    def __init__(self, importer: str, file: Path, modules: dict[str, Path]) -> None:
        self.importer = importer
        self.file = file
        self.modules = modules
        self.is_package = file.name == "__init__.py"
        self.in_function = 0
        self.in_type_checking = 0
        self.found: list[Import] = []
        self.seen_strings: set[int] = set()

    def _add(self, imported: str, node: ast.AST, runs_now: bool) -> None:
        if imported == "oprun" or imported.startswith("oprun."):
            at_import_time = runs_now and not self.in_function and not self.in_type_checking
            self.found.append(Import(self.importer, imported, self.file, node.lineno, at_import_time))

    def _visit_function(self, node: ast.AST) -> None:
        self.in_function += 1
        self.generic_visit(node)
        self.in_function -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_function(node)

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.in_type_checking += 1
        for child in node.body:
            self.visit(child)
        self.in_type_checking -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node, runs_now=True)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            module = _resolve_relative(self.importer, self.is_package, node.level, node.module)
        for alias in node.names:
            submodule = f"{module}.{alias.name}"
            self._add(submodule if submodule in self.modules else module, node, runs_now=True)

    def visit_Call(self, node: ast.Call) -> None:
        first = node.args[0] if node.args else None
        if _is_import_call(node) and isinstance(first, ast.Constant) and isinstance(first.value, str):
            self.seen_strings.add(id(first))
            self._add(first.value, node, runs_now=True)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and id(node) not in self.seen_strings:
            imported = _string_reference(node.value, self.modules)
            if imported:
                self._add(imported, node, runs_now=False)


def find_imports(root: Path) -> list[Import]:
    """Every reference from one oprun module to another, in the tree under `root`."""
    modules = find_modules(root)
    found = []
    for module, path in modules.items():
        collector = _ImportCollector(module, path, modules)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found += [imp for imp in collector.found if imp.imported != module]
    return list(dict.fromkeys(found))  # `from m import a, b` is one import of m


# -- the checks ------------------------------------------------------------------


def _allowed_by(imp: Import, allowlist: dict[tuple[str, str], str]) -> tuple[str, str] | None:
    for importer, prefix in allowlist:
        if imp.importer == importer and (imp.imported == prefix or imp.imported.startswith(prefix + ".")):
            return (importer, prefix)
    return None


def _upward(root: Path) -> list[tuple[Import, int, int]]:
    """Imports that go up the flow, with the importer's and the imported module's rank."""
    upward = []
    for imp in find_imports(root):
        if imp.importer in TOP:
            continue
        own, other = rank(imp.importer), rank(imp.imported)
        if own is not None and other is not None and other > own:
            upward.append((imp, own, other))
    return upward


def check_layers(root: Path, allowlist: dict[tuple[str, str], str] = ALLOWLIST) -> list[Violation]:
    """Every upward import in the tree under `root` that the allowlist does not cover."""
    return [
        Violation(imp.file, imp.line, imp.importer, own, imp.imported, other)
        for imp, own, other in _upward(root)
        if _allowed_by(imp, allowlist) is None
    ]


def unused_allowlist_entries(
    root: Path, allowlist: dict[tuple[str, str], str] = ALLOWLIST
) -> list[tuple[str, str]]:
    used = {_allowed_by(imp, allowlist) for imp, _, _ in _upward(root)}
    return sorted(entry for entry in allowlist if entry not in used)


def unranked_modules(root: Path) -> list[str]:
    return sorted(module for module in find_modules(root) if rank(module) is None)


def _import_time_graph(root: Path) -> dict[str, set[str]]:
    modules = find_modules(root)
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for imp in find_imports(root):
        if imp.at_import_time and imp.imported in modules:
            graph[imp.importer].add(imp.imported)
    return graph


def _shortest_path(graph: dict[str, set[str]], start: str, goal: str) -> list[str]:
    """Breadth-first: the shortest chain of imports from `start` to `goal`, or []."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for imported in sorted(graph[module]):
                if imported == goal:
                    path = [goal, module]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                if imported not in previous and imported != start:
                    previous[imported] = module
                    following.append(imported)
        frontier = following
    return []


def find_cycles(root: Path) -> list[list[str]]:
    """Import-time cycles, each as a chain `[a, b, c, a]`.

    One shortest cycle is reported per module that lies on a cycle, and each
    cycle only once, whichever module it was found from.
    """
    graph = _import_time_graph(root)
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for module in sorted(graph):
        path = _shortest_path(graph, module, module)
        if path and frozenset(path) not in seen:
            seen.add(frozenset(path))
            cycles.append(path)
    return cycles


# -- the checks on the real tree ---------------------------------------------------


def test_every_module_has_a_rank():
    assert unranked_modules(SRC) == [], "give each new module a rank in RANKS"


def test_imports_run_down_the_flow():
    violations = check_layers(SRC)
    assert violations == [], "\n" + "\n".join(map(str, violations))


def test_every_allowlist_entry_is_still_needed():
    unused = unused_allowlist_entries(SRC)
    assert unused == [], f"remove these ALLOWLIST entries, nothing uses them any more: {unused}"


def test_no_import_cycles_at_import_time():
    cycles = find_cycles(SRC)
    assert cycles == [], "\n" + "\n".join(
        "import cycle: " + " -> ".join(cycle) + "; move an import into the function that needs it, "
        "or move the shared code down the flow"
        for cycle in cycles
    )


# -- the test of the test: a fake tree ----------------------------------------------


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    package = root / "oprun"
    for directory in [package, *(p for p in package.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    return root


CLEAN_TREE = {
    "oprun/__init__.py": "import importlib\ndef __getattr__(name):\n    return importlib.import_module('oprun.execution.y')\n",
    "oprun/errors.py": "class Error(Exception): pass\n",
    "oprun/cli/__init__.py": "from oprun import __version__\nimport oprun.execution.y\n",
    "oprun/definitions/x.py": "from oprun.errors import Error\nfrom . import z\n",
    "oprun/definitions/z.py": "def f():\n    from oprun.definitions import x\n",
    "oprun/execution/y.py": "from oprun.definitions.x import Error\nfrom oprun import errors\n",
}


def test_the_checker_reports_nothing_for_a_clean_tree(tmp_path):
    root = _write_tree(tmp_path, CLEAN_TREE)
    assert check_layers(root, allowlist={}) == []
    assert find_cycles(root) == []
    assert unranked_modules(root) == []


def _upward_pairs(root: Path, allowlist: dict[tuple[str, str], str] | None = None) -> set[tuple[str, int, str]]:
    return {(v.importer, v.line, v.imported) for v in check_layers(root, allowlist or {})}


def test_the_checker_sees_every_kind_of_upward_import(tmp_path):
    root = _write_tree(tmp_path, {
        "oprun/execution/y.py": "",
        "oprun/execution/w.py": "",
        "oprun/execution/pkg/__init__.py": "",
        "oprun/execution/pkg/sub.py": "",
        "oprun/cli.py": "",
        "oprun/definitions/x.py": (
            "import subprocess, sys, importlib, typing\n"
            "def run():\n"
            "    from oprun.execution.y import thing\n"  # 3: inside a function
            "    subprocess.run([sys.executable, '-m', 'oprun.execution.w'])\n"  # 4: module path as a string
            "    importlib.import_module('oprun.execution.pkg.sub')\n"  # 5: import_module
            "if typing.TYPE_CHECKING:\n"
            "    import oprun.cli\n"  # 7: only for type checking
            "from oprun.execution.pkg import sub\n"  # 8: the name is a submodule
            "HANDLER = 'oprun.execution.y:handle'\n"  # 9: module:attr
            "class C:\n"
            "    def m(self):\n"
            "        return __import__('oprun.execution')\n"  # 12: __import__
            "import oprun\n"  # 13: the public surface is above every layer
        ),
        "oprun/definitions/sub/rel.py": "def f():\n    from ...execution import y\n",  # relative
    })
    assert _upward_pairs(root) == {
        ("oprun.definitions.x", 3, "oprun.execution.y"),
        ("oprun.definitions.x", 4, "oprun.execution.w"),
        ("oprun.definitions.x", 5, "oprun.execution.pkg.sub"),
        ("oprun.definitions.x", 7, "oprun.cli"),
        ("oprun.definitions.x", 8, "oprun.execution.pkg.sub"),
        ("oprun.definitions.x", 9, "oprun.execution.y"),
        ("oprun.definitions.x", 12, "oprun.execution"),
        ("oprun.definitions.x", 13, "oprun"),
        ("oprun.definitions.sub.rel", 2, "oprun.execution.y"),
    }
    assert find_cycles(root) == []  # none of these run at import time, or they go nowhere back


def test_a_violation_says_where_and_what_to_do(tmp_path):
    root = _write_tree(tmp_path, {
        "oprun/execution/y.py": "",
        "oprun/definitions/x.py": "def run():\n    from oprun.execution.y import thing\n",
    })
    [violation] = check_layers(root, allowlist={})
    assert str(violation) == (
        f"{root / 'oprun/definitions/x.py'}:2: oprun.definitions.x (rank 2) imports oprun.execution.y "
        f"(rank 4), which is later in the flow; {WHAT_TO_DO}"
    )


def test_the_allowlist_covers_a_prefix_and_an_unused_entry_is_reported(tmp_path):
    root = _write_tree(tmp_path, {
        "oprun/execution/y.py": "",
        "oprun/definitions/x.py": "def run():\n    from oprun.execution.y import thing\n",
    })
    used, unused = ("oprun.definitions.x", "oprun.execution"), ("oprun.config.a", "oprun.cli")
    allowlist = {used: "because", unused: "because"}
    assert check_layers(root, allowlist) == []
    assert unused_allowlist_entries(root, allowlist) == [unused]


def test_the_checker_finds_an_import_time_cycle_and_names_it(tmp_path):
    root = _write_tree(tmp_path, {
        "oprun/definitions/a.py": "from oprun.definitions.b import B\n",
        "oprun/definitions/b.py": "from . import a\nB = 1\n",
        "oprun/definitions/k.py": "from .l import L\n",
        "oprun/definitions/l.py": "import oprun.definitions.m\nL = 1\n",
        "oprun/definitions/m.py": "from oprun.definitions import k\n",
        "oprun/config/p.py": "from oprun.config.q import Q\n",
        "oprun/config/q.py": "import typing\nif typing.TYPE_CHECKING:\n    from oprun.config.p import P\nQ = 1\n",
        "oprun/config/r.py": "from oprun.config.s import S\n",
        "oprun/config/s.py": "S = 1\ndef f():\n    from oprun.config.r import R\n",
    })
    assert find_cycles(root) == [
        ["oprun.definitions.a", "oprun.definitions.b", "oprun.definitions.a"],
        ["oprun.definitions.k", "oprun.definitions.l", "oprun.definitions.m", "oprun.definitions.k"],
    ]
    assert check_layers(root, allowlist={}) == []


def test_a_module_without_a_rank_is_reported(tmp_path):
    root = _write_tree(tmp_path, {"oprun/plugins.py": "", "oprun/errors.py": ""})
    assert unranked_modules(root) == ["oprun.plugins"]


# -- import-time weight (a different question: which libraries get loaded) ----------

HEAVY = {"sqlalchemy", "starlette", "strawberry", "rich", "click", "dask", "distributed", "uvicorn", "alembic", "psycopg", "psutil"}


def _loaded_after_import(module: str) -> set[str]:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_listing_jobs_loads_no_database_or_execution_module(tmp_path):
    jobs = tmp_path / "jobs.py"
    jobs.write_text("from oprun import job, op\n@op\ndef a(): return 1\n@job\ndef j(): a()\n")
    code = (
        "import sys, json; from oprun.cli import run_cli; run_cli(['job', 'list', '-f', sys.argv[1]]); "
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(jobs)], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stderr.strip().splitlines()[-1]))
    assert "sqlalchemy" not in loaded and "oprun.execution.api" not in loaded and "rich" not in loaded


def test_an_ephemeral_instance_loads_no_database_library():
    code = (
        "import sys, json; from oprun import DagsterInstance; DagsterInstance.ephemeral(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "sqlalchemy" not in {m.split(".")[0] for m in json.loads(out.stdout)}


def test_import_oprun_loads_no_heavy_dependency():
    loaded = {m.split(".")[0] for m in _loaded_after_import("oprun")}
    assert loaded & HEAVY == set()
    assert "pydantic" not in loaded, "pydantic loads only when Config or a resource class is used"
    assert "asyncio" not in loaded, "asyncio loads only when an async op runs"


def test_a_first_run_in_process_loads_only_what_it_needs():
    # The run path stays light: no code loading by pointer, no multiprocessing, and
    # none of the slow standard modules a plain in-process run does not use.
    code = (
        "import sys\n"
        "from oprun import job, op\n"
        "@op\ndef a(): return 1\n"
        "@job\ndef j(): a()\n"
        "assert j.execute_in_process().success\n"
        "wanted = ['json', 'dataclasses', 'inspect', 'multiprocessing', 'oprun.execution.reconstruct', 'sqlalchemy']\n"
        "print(','.join(m for m in wanted if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
