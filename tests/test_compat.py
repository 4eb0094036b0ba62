"""The `dagster` import alias: code written for Dagster loads and runs on oprun
when the real package is not installed, and the alias steps aside when it is."""

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import oprun
from oprun import compat
from oprun.loading import load_definitions

LOCATIONS = Path(__file__).parent / "fixtures" / "locations"


@pytest.fixture(autouse=True)
def clean_alias(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    compat.uninstall()
    yield
    compat.uninstall()
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_install_makes_dagster_mean_oprun():
    assert compat.install() is True
    assert compat.is_installed()
    import dagster
    from dagster import Definitions, job, op

    assert dagster is oprun
    assert (job, op, Definitions) == (oprun.job, oprun.op, oprun.Definitions)
    assert oprun.__spec__.name == "oprun"  # the module keeps its own identity


def test_submodules_map_to_oprun_submodules():
    compat.install()
    aliased = importlib.import_module("dagster.definitions.jobs.job")
    assert aliased is importlib.import_module("oprun.definitions.jobs.job")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("dagster._core.definitions")


def test_uninstall_removes_the_alias():
    compat.install()
    import dagster  # noqa: F401

    compat.uninstall()
    assert not compat.is_installed()
    assert "dagster" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        import dagster  # noqa: F401, F811


def test_install_is_idempotent():
    assert compat.install() and compat.install()
    assert sum(isinstance(f, compat.DagsterAliasFinder) for f in sys.meta_path) == 1


def test_the_real_dagster_wins_unless_forced(tmp_path):
    fake = tmp_path / "dagster"
    fake.mkdir()
    (fake / "__init__.py").write_text("REAL = True\n")
    sys.path.insert(0, str(tmp_path))
    assert compat.real_dagster_installed()
    assert compat.install() is False
    assert not compat.is_installed()
    assert compat.install(force=True) is True
    import dagster

    assert dagster is oprun


def test_a_file_written_for_dagster_loads_and_runs_on_oprun():
    defs = load_definitions(python_file=LOCATIONS / "dagster_style.py")
    assert compat.is_installed()
    assert sys.modules["dagster_style"].ALIASED == "oprun"
    result = defs.get_job_def("answer").execute_in_process()
    assert result.success and result.output_for_node("add_one") == 42


def test_a_script_can_install_the_alias_itself(tmp_path):
    script = tmp_path / "run_me.py"
    script.write_text(
        textwrap.dedent(
            """
            from oprun import compat
            compat.install()
            from dagster import job, op

            @op
            def one() -> int:
                return 1

            @job
            def tiny():
                one()

            print(tiny.execute_in_process().output_for_node("one"))
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "1"
