"""`oprun definitions validate` and the `job list` mark for a job whose default
config is invalid, run as a real subprocess with its own OPRUN_HOME: exit 1
naming the job and each path (or the load error), 0 with one line when all is
well, and no traceback for a user's mistake."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from oprun import DagsterInstance

JOBS = textwrap.dedent(
    """
    from oprun import Config, Definitions, in_process_executor, job, op

    class DoSomethingConfig(Config):
        config_param: str

    @op
    def do_something(config: DoSomethingConfig) -> str:
        return config.config_param

    @job(config={"ops": {"do_something": {"config": {"config_param": 1}}}, "execution": {"config": {"bogus": 1}}})
    def broken():
        do_something()

    @job(config={"ops": {"do_something": {"config": {"config_param": "fine"}}}}, executor_def=in_process_executor)
    def good():
        do_something()

    defs = Definitions(jobs=[broken, good])
    """
)

CLEAN = textwrap.dedent(
    """
    from oprun import job, op

    @op
    def one() -> int:
        return 1

    @job
    def clean_job():
        one()
    """
)

OP_PATH = "root:ops:do_something:config:config_param"
EXEC_PATH = "root:execution:config:bogus"


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def oprun(home, tmp_path):
    exe = shutil.which("oprun")
    base = [exe] if exe else [sys.executable, "-m", "oprun"]

    def run(*args):
        return subprocess.run(
            [*base, *map(str, args)], capture_output=True, text=True, cwd=tmp_path, timeout=120,
            env={**os.environ, "OPRUN_HOME": str(home)},
        )

    return run


@pytest.fixture
def jobs_file(tmp_path):
    path = tmp_path / "deferred_jobs.py"
    path.write_text(JOBS)
    return path


@pytest.fixture
def clean_file(tmp_path):
    path = tmp_path / "clean_jobs.py"
    path.write_text(CLEAN)
    return path


def test_job_list_marks_the_job_with_an_invalid_default_and_lists_the_others(oprun, jobs_file):
    listed = oprun("job", "list", "-f", jobs_file)
    assert listed.returncode == 0, listed.stderr
    assert "Job: broken (invalid default config)" in listed.stdout
    assert OP_PATH in listed.stdout and EXEC_PATH in listed.stdout
    assert "Job: good\n" in listed.stdout


def test_validate_names_the_job_and_each_path_and_exits_1(oprun, jobs_file):
    checked = oprun("definitions", "validate", "-f", jobs_file)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "Validation failed for code location deferred_jobs" in checked.stdout
    assert "Job 'broken'" in checked.stdout
    assert OP_PATH in checked.stdout and EXEC_PATH in checked.stdout
    assert "good" not in checked.stdout
    assert "Validation failed: 1 job with invalid config." in checked.stderr
    assert "Traceback" not in checked.stdout + checked.stderr


def test_validate_a_clean_location_exits_0_with_one_line(oprun, clean_file):
    checked = oprun("definitions", "validate", "-f", clean_file)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All code locations passed validation (1 code location, 1 job)." in checked.stdout
    assert checked.stderr == ""


def test_validate_takes_modules_and_workspaces_like_the_other_commands(oprun, jobs_file, clean_file, tmp_path):
    by_module = oprun("definitions", "validate", "-m", "clean_jobs", "-d", tmp_path)
    assert by_module.returncode == 0, by_module.stdout + by_module.stderr

    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - python_file: {clean_file.name}\n  - python_file: {jobs_file.name}\n")
    both = oprun("definitions", "validate", "-w", workspace)
    assert both.returncode == 1
    assert "Validation successful for code location clean_jobs.py (1 job)." in both.stdout
    assert "Job 'broken'" in both.stdout and OP_PATH in both.stdout


def test_validate_reports_load_errors_without_a_traceback(oprun, clean_file, tmp_path):
    broken = tmp_path / "syntax_error.py"
    broken.write_text("from oprun import job\n\ndef oops(:\n    pass\n")
    checked = oprun("definitions", "validate", "-f", broken, "-f", clean_file)
    assert checked.returncode == 1
    said = checked.stdout + checked.stderr
    assert "Validation failed for code location syntax_error.py: it did not load." in checked.stdout
    assert "syntax_error.py" in said and "line 3" in said
    assert "Validation successful for code location clean_jobs" in checked.stdout
    assert "1 code location failed to load" in checked.stderr
    assert "Traceback" not in said
    loud = oprun("--verbose", "definitions", "validate", "-f", broken)
    assert loud.returncode == 1 and "Traceback" in loud.stderr


def test_validate_json(oprun, jobs_file):
    checked = oprun("definitions", "validate", "-f", jobs_file, "--json")
    assert checked.returncode == 1
    report = json.loads(checked.stdout)
    assert report["valid"] is False
    (location,) = report["locations"]
    jobs = {job["name"]: job for job in location["jobs"]}
    assert jobs["good"]["valid"] is True
    assert sorted(p["path"] for p in jobs["broken"]["problems"]) == sorted([OP_PATH, EXEC_PATH])


def test_running_the_bad_job_is_refused_naming_job_and_path_and_records_nothing(oprun, jobs_file, home):
    for command in ("execute", "launch"):
        refused = oprun("job", command, "-f", jobs_file, "-j", "broken")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "job 'broken'" in refused.stderr and OP_PATH in refused.stderr
        assert "Traceback" not in refused.stderr
    invalid = oprun("job", "validate-config", "-f", jobs_file, "-j", "broken")
    assert invalid.returncode == 1 and OP_PATH in invalid.stderr
    if home.exists():
        with DagsterInstance.from_directory(str(home)) as instance:
            assert instance.get_runs() == []
