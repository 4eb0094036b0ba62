"""Loading code locations: files, modules, attributes, workspaces, pyproject
defaults, code pointers, and one clear error for every way loading fails."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oprun import DagsterCodeLocationLoadError, Definitions
from oprun.loading import (
    CodeLocation,
    CodePointer,
    default_location,
    default_locations,
    load_definitions,
    load_workspace,
    locations_from_args,
)

LOCATIONS = Path(__file__).parent / "fixtures" / "locations"


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch):
    """Each test imports fixture modules afresh and leaves sys.path as it was."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]
    from oprun import compat

    compat.uninstall()


def _load_error(**kwargs) -> DagsterCodeLocationLoadError:
    with pytest.raises(DagsterCodeLocationLoadError) as info:
        load_definitions(**kwargs)
    return info.value


# --- finding definitions ---------------------------------------------------------------


def test_a_module_level_definitions_is_found():
    defs = load_definitions(python_file=LOCATIONS / "one_definitions.py")
    assert isinstance(defs, Definitions)
    assert defs.job_names == ["say_hello", "nightly"]
    assert defs.get_job_def("say_hello").execute_in_process().output_for_node("hello") == "hello"


def test_loading_the_same_file_twice_imports_it_once():
    first = load_definitions(python_file=LOCATIONS / "one_definitions.py")
    assert load_definitions(python_file=LOCATIONS / "one_definitions.py") is first


def test_attribute_picks_an_object_or_a_function_that_builds_one():
    defs = load_definitions(python_file=LOCATIONS / "two_definitions.py", attribute="more_defs")
    assert defs.job_names == ["second"]
    built = load_definitions(python_file=LOCATIONS / "one_definitions.py", attribute="build_defs")
    assert built.job_names == ["say_hello"]
    single = load_definitions(python_file=LOCATIONS / "one_definitions.py", attribute="nightly")
    assert single.job_names == ["nightly"]


def test_bare_jobs_and_schedules_are_gathered_but_not_graphs_beside_them():
    defs = load_definitions(python_file=LOCATIONS / "bare_jobs.py")
    assert defs.job_names == ["first", "second"]
    assert defs.get_schedule_def("second_schedule").job_name == "second"


def test_a_lone_graph_is_offered_as_a_job():
    assert load_definitions(python_file=LOCATIONS / "only_graph.py").job_names == ["lonely_graph"]


def test_a_legacy_repository_is_loaded_like_definitions():
    defs = load_definitions(python_file=LOCATIONS / "repository.py")
    assert defs.job_names == ["legacy_job"]
    assert defs.get_schedule_def("legacy_job_schedule").cron_schedule == "@hourly"


def test_the_files_directory_is_put_first_on_sys_path_for_local_imports():
    defs = load_definitions(python_file=LOCATIONS / "with_helper" / "location.py")
    assert sys.path[0] == str(LOCATIONS / "with_helper")
    assert defs.get_job_def("greeting").execute_in_process().output_for_node("greet") == "hi"


def test_working_directory_is_used_instead_of_the_files_directory(tmp_path):
    location = tmp_path / "elsewhere.py"
    location.write_text((LOCATIONS / "with_helper" / "location.py").read_text())
    defs = load_definitions(python_file=location, working_directory=LOCATIONS / "with_helper")
    assert sys.path[0] == str(LOCATIONS / "with_helper")
    assert defs.job_names == ["greeting"]


def test_a_module_is_loaded_from_its_working_directory():
    defs = load_definitions(module_name="oprun_fixture_pkg.definitions", working_directory=LOCATIONS / "modules")
    assert defs.get_job_def("package_job").execute_in_process().output_for_node("packaged") == "from a package"


def test_reload_imports_the_file_again(tmp_path):
    location = tmp_path / "editable_location.py"
    location.write_text("from oprun import Definitions, job, op\n@op\ndef a(): pass\n@job\ndef before(): a()\ndefs = Definitions(jobs=[before])\n")
    pointer = CodePointer(python_file=str(location))
    code = CodeLocation("editable", pointer)
    assert code.definitions.job_names == ["before"]
    location.write_text(location.read_text().replace("before", "after"))
    assert code.definitions.job_names == ["before"]  # cached until reloaded
    assert code.reload().job_names == ["after"]


def test_two_files_with_the_same_name_load_side_by_side(tmp_path):
    for folder, job_name in (("a", "from_a"), ("b", "from_b")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "definitions_same.py").write_text(
            f"from oprun import job, op\n@op\ndef o(): pass\n@job\ndef {job_name}(): o()\n"
        )
    assert load_definitions(python_file=tmp_path / "a" / "definitions_same.py").job_names == ["from_a"]
    assert load_definitions(python_file=tmp_path / "b" / "definitions_same.py").job_names == ["from_b"]


# --- load failures: one error naming the file and line ---------------------------------------


def test_missing_file(tmp_path):
    error = _load_error(python_file=str(tmp_path / "no_such_file.py"))
    assert "the file" in str(error) and "no_such_file.py does not exist" in str(error)
    assert "-f/--python-file" in str(error)


def test_missing_file_suggests_a_close_name():
    error = _load_error(python_file=str(LOCATIONS / "one_definition.py"))
    assert "Did you mean 'one_definitions.py'?" in str(error)


def test_directory_instead_of_a_file():
    error = _load_error(python_file=str(LOCATIONS / "with_helper"))
    assert "is a directory, not a Python file" in str(error)


def test_syntax_error_names_the_file_line_and_the_original_error():
    error = _load_error(python_file=str(LOCATIONS / "syntax_error.py"))
    message = str(error)
    assert f"syntax error in {LOCATIONS / 'syntax_error.py'}, line 6:" in message
    assert "def broken(:" in message
    assert "Fix the syntax error" in message
    assert isinstance(error.__cause__, SyntaxError)
    assert error.line == 6 and error.file == str(LOCATIONS / "syntax_error.py")


def test_import_error_names_the_users_file_and_line_and_what_to_do():
    error = _load_error(python_file=str(LOCATIONS / "import_error.py"))
    message = str(error)
    assert f"ModuleNotFoundError at {LOCATIONS / 'import_error.py'}, line 3:" in message
    assert "No module named 'oprun_no_such_module_for_tests'" in message
    assert "import oprun_no_such_module_for_tests" in message
    assert "-d/--working-directory" in message and "Install it" in message
    assert isinstance(error.__cause__, ModuleNotFoundError)
    assert "Traceback" not in message


def test_error_raised_while_building_definitions_names_the_users_line():
    error = _load_error(python_file=str(LOCATIONS / "raises_on_import.py"))
    message = str(error)
    assert f"DagsterInvalidDefinitionError at {LOCATIONS / 'raises_on_import.py'}, line 6:" in message
    assert '"not valid" is not a valid op name' in message
    assert '@op(name="not valid")' in message
    assert "Fix the definition at that line" in message


def test_no_definitions_found():
    error = _load_error(python_file=str(LOCATIONS / "no_definitions.py"))
    assert "no Definitions found" in str(error) and "defs = Definitions(jobs=[my_job])" in str(error)


def test_two_definitions_found_names_them_with_their_lines():
    error = _load_error(python_file=str(LOCATIONS / "two_definitions.py"))
    message = str(error)
    assert "found 2 Definitions objects at module level: defs (line 21), more_defs (line 22)" in message
    assert "-a/--attribute" in message
    assert error.line == 21


def test_unknown_attribute_suggests_a_close_one():
    error = _load_error(python_file=str(LOCATIONS / "two_definitions.py"), attribute="more_def")
    assert "has no attribute 'more_def'. Did you mean 'more_defs'?" in str(error)


def test_attribute_of_the_wrong_kind():
    error = _load_error(python_file=str(LOCATIONS / "one_definitions.py"), attribute="__doc__")
    assert "'__doc__' is str, not a Definitions object" in str(error)


def test_definitions_that_cannot_bind_are_a_load_error():
    error = _load_error(python_file=str(LOCATIONS / "missing_resource.py"))
    assert "resource with key 'warehouse' required by op 'load' was not provided to job 'nightly_load'" in str(error)
    assert str(LOCATIONS / "missing_resource.py") in str(error)


def test_missing_module():
    error = _load_error(module_name="oprun_fixture_absent.defs", working_directory=str(LOCATIONS))
    assert "no module named 'oprun_fixture_absent.defs'" in str(error)
    assert f"searched from {LOCATIONS}" in str(error)


def test_missing_working_directory(tmp_path):
    error = _load_error(module_name="anything", working_directory=str(tmp_path / "gone"))
    assert "the working directory" in str(error) and "does not exist" in str(error)


def test_file_and_module_together_or_neither():
    assert "exactly one of python_file" in str(_load_error())
    assert "exactly one of python_file" in str(_load_error(python_file="a.py", module_name="a"))


# --- code pointers and locations ------------------------------------------------------------


def test_code_pointer_round_trips_and_loads_in_another_process():
    pointer = CodePointer(python_file=str(LOCATIONS / "one_definitions.py"), attribute="defs")
    assert CodePointer.from_dict(json.loads(json.dumps(pointer.to_dict()))) == pointer
    assert pointer.describe().endswith("one_definitions.py:defs")
    script = (
        "import json, sys\n"
        "from oprun.loading import CodePointer\n"
        "defs = CodePointer.from_dict(json.loads(sys.argv[1])).load()\n"
        "print(defs.get_job_def('say_hello').execute_in_process().output_for_node('hello'))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, json.dumps(pointer.to_dict())], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "hello"


def test_code_pointer_needs_exactly_one_source():
    with pytest.raises(DagsterCodeLocationLoadError, match="either a Python file or a module"):
        CodePointer()


def test_a_location_keeps_its_load_error():
    location = CodeLocation("broken", CodePointer(python_file=str(LOCATIONS / "import_error.py")))
    error = location.load_error
    assert isinstance(error, DagsterCodeLocationLoadError)
    with pytest.raises(DagsterCodeLocationLoadError) as info:
        location.definitions  # noqa: B018
    assert info.value is error


# --- workspaces -------------------------------------------------------------------------------


def test_workspace_lists_locations_and_a_broken_one_does_not_stop_the_others():
    locations = load_workspace(LOCATIONS / "workspace" / "workspace.yaml")
    assert [loc.name for loc in locations] == ["one_definitions.py", "gathered", "oprun_fixture_pkg.definitions", "import_error.py"]
    assert locations[0].pointer.python_file == str(LOCATIONS / "one_definitions.py")
    assert locations[2].pointer == CodePointer(module_name="oprun_fixture_pkg.definitions", attribute="defs", working_directory=str(LOCATIONS / "modules"))
    assert locations[0].definitions.job_names == ["say_hello", "nightly"]
    assert locations[1].definitions.job_names == ["first", "second"]
    assert locations[2].definitions.job_names == ["package_job"]
    assert locations[3].load_error is not None
    assert locations[0].load_error is None


@pytest.mark.parametrize(
    "content, expected",
    [
        ("load_from: [", "Could not read workspace file"),
        ("something: else\n", "needs a non-empty `load_from:` list"),
        ("load_from: []\n", "needs a non-empty `load_from:` list"),
        ("load_from:\n  - python_fil: a.py\n", "entry 1 of load_from: unknown kind 'python_fil'. Did you mean 'python_file'?"),
        ("load_from:\n  - grpc_server: {host: localhost, port: 4000}\n", "grpc_server locations are not supported"),
        ("load_from:\n  - python_file: {relative_path: a.py, atribute: defs}\n", "unknown option 'atribute' for python_file. Did you mean 'attribute'?"),
        ("load_from:\n  - python_module: {attribute: defs}\n", "python_module needs module_name"),
        ("load_from:\n  - python_file: a.py\n  - python_file: sub/a.py\n", "two code locations named 'a.py'"),
        ("load_from:\n  - [a, b]\n", "each entry is one of python_file:"),
    ],
)
def test_bad_workspace_files_say_what_is_wrong(tmp_path, content, expected):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(content)
    with pytest.raises(DagsterCodeLocationLoadError, match=re.escape(expected)) as info:
        load_workspace(workspace)
    assert str(workspace) in str(info.value)


def test_workspace_yaml_error_names_the_line(tmp_path):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_file: a.py\n  - python_file: [unclosed\n")
    with pytest.raises(DagsterCodeLocationLoadError, match=r"workspace.yaml, line \d+") as info:
        load_workspace(workspace)
    assert info.value.line is not None


def test_missing_workspace_file(tmp_path):
    with pytest.raises(DagsterCodeLocationLoadError, match="the file .*nope.yaml does not exist"):
        load_workspace(tmp_path / "nope.yaml")


def test_python_package_entries_load_as_modules(tmp_path):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - python_package: {{package_name: oprun_fixture_pkg.definitions, working_directory: {LOCATIONS / 'modules'}}}\n")
    (location,) = load_workspace(workspace)
    assert location.definitions.job_names == ["package_job"]


# --- defaults ---------------------------------------------------------------------------------


def test_pyproject_tool_oprun_names_the_default_location():
    location = default_location(LOCATIONS / "pyproject_default")
    assert location.name == "mine"
    assert location.pointer.python_file == str(LOCATIONS / "pyproject_default" / "my_location.py")
    assert location.definitions.job_names == ["from_pyproject"]


def test_pyproject_tool_dagster_is_read_too(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.dagster]\nmodule_name = "oprun_fixture_pkg.definitions"\nworking_directory = "' + str(LOCATIONS / "modules") + '"\n')
    (location,) = default_locations(tmp_path)
    assert location.name == "oprun_fixture_pkg.definitions"
    assert location.definitions.job_names == ["package_job"]


def test_workspace_in_the_directory_is_the_default():
    locations = default_locations(LOCATIONS / "workspace")
    assert len(locations) == 4
    with pytest.raises(DagsterCodeLocationLoadError, match=r"lists 4 code locations .*choose one with -l/--location"):
        default_location(LOCATIONS / "workspace")


def test_no_default_location_says_how_to_give_one(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(DagsterCodeLocationLoadError, match=r"(?s)No code location given.*Pass -f FILE or -m MODULE.*\[tool.oprun\]"):
        default_locations(tmp_path)


def test_bad_pyproject_sections(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.oprun]\nattribute = 'defs'\n")
    with pytest.raises(DagsterCodeLocationLoadError, match=re.escape("[tool.oprun]: give exactly one of module_name and python_file")):
        default_locations(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.oprun\n")
    with pytest.raises(DagsterCodeLocationLoadError, match="Could not read .*pyproject.toml: .*Fix the TOML"):
        default_locations(tmp_path)


def test_locations_from_command_line_arguments(tmp_path):
    locations = locations_from_args(
        python_files=[str(LOCATIONS / "one_definitions.py"), str(LOCATIONS / "bare_jobs.py")],
        module_names=["oprun_fixture_pkg.definitions"],
        working_directory=str(LOCATIONS / "modules"),
    )
    assert [loc.name for loc in locations] == ["one_definitions.py", "bare_jobs.py", "oprun_fixture_pkg.definitions"]
    assert locations[2].definitions.job_names == ["package_job"]
    assert [loc.name for loc in locations_from_args(workspace=str(LOCATIONS / "workspace" / "workspace.yaml"))][0] == "one_definitions.py"
    assert locations_from_args(cwd=str(LOCATIONS / "pyproject_default"))[0].name == "mine"
    with pytest.raises(DagsterCodeLocationLoadError, match="either -w/--workspace or -f/-m"):
        locations_from_args(python_files=["a.py"], workspace="w.yaml")


def test_relative_python_file_is_read_from_the_current_directory(monkeypatch):
    monkeypatch.chdir(LOCATIONS)
    assert load_definitions(python_file="one_definitions.py").job_names == ["say_hello", "nightly"]
    assert os.getcwd() == str(LOCATIONS)
