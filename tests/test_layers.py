"""Imports run one way, down the flow of data (DESIGN.md): each layer is imported
in a fresh interpreter and must not pull in a layer below it in the flow."""

import json
import subprocess
import sys

import pytest

# Rank along the flow; a module may import only modules of equal or lower rank.
RANKS = {
    "oprun.errors": 0,
    "oprun.events": 0,
    "oprun.runs": 0,
    "oprun.config": 1,
    "oprun.definitions": 2,
    "oprun.instance": 3,
    "oprun.execution": 4,
    "oprun.loading": 5,
    "oprun.daemon": 6,
    "oprun.cli": 7,
    "oprun.web": 7,
}

HEAVY = {"sqlalchemy", "starlette", "strawberry", "rich", "click", "dask", "distributed", "uvicorn", "alembic", "psycopg"}


def _rank(module: str) -> int | None:
    for prefix, rank in RANKS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return None


def _loaded_after_import(module: str, bare_package: bool = True) -> list[str]:
    # With bare_package, the `oprun` package's own __init__ (which re-exports the
    # public API) is skipped, so only what `module` itself imports is loaded.
    prelude = (
        "import importlib.util, sys, types; spec = importlib.util.find_spec('oprun'); "
        "pkg = types.ModuleType('oprun'); pkg.__path__ = list(spec.submodule_search_locations); "
        "sys.modules['oprun'] = pkg; "
        if bare_package and module != "oprun" else ""
    )
    code = f"{prelude}import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


LAYER_ROOTS = [
    "oprun.errors", "oprun.events", "oprun.runs", "oprun.config", "oprun.config.types",
    "oprun.config.validate", "oprun.config.pythonic", "oprun.definitions.jobs.job", "oprun.definitions.jobs.graph",
    "oprun.definitions.jobs.op", "oprun.instance", "oprun.instance.sql", "oprun.execution.api",
    "oprun.execution.execute_job", "oprun.execution.executors.multiprocess",
    "oprun.definitions.definitions", "oprun.definitions.automation.schedules", "oprun.definitions.automation.sensors",
    "oprun.loading",
]


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


@pytest.mark.parametrize("module", LAYER_ROOTS)
def test_layer_imports_only_layers_above_it_in_the_flow(module):
    own = _rank(module)
    loaded = _loaded_after_import(module)
    offenders = [m for m in loaded if (r := _rank(m)) is not None and r > own]
    assert offenders == [], f"{module} (rank {own}) imports later layers: {offenders}"


def test_import_oprun_loads_no_heavy_dependency():
    loaded = {m.split(".")[0] for m in _loaded_after_import("oprun", bare_package=False)}
    assert loaded & HEAVY == set()
    assert "pydantic" not in loaded, "pydantic loads only when Config or a resource class is used"
    assert "asyncio" not in loaded, "asyncio loads only when an async op runs"
