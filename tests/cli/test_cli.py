"""The `oprun` command line, run as a real subprocess with its own OPRUN_HOME:
every command, exit statuses, --json output, and each bad-input case (one clear
message, no traceback unless --verbose)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from oprun import DagsterInstance, DagsterRunStatus

JOBS = textwrap.dedent(
    """
    from oprun import Config, Definitions, Field, in_process_executor, job, op

    class Greeting(Config):
        name: str
        times: int = 1

    @op
    def greet(config: Greeting) -> str:
        print("printing " + config.name)
        return config.name * config.times

    @op
    def shout(text: str) -> str:
        return text.upper()

    @op
    def boom(text: str):
        raise ValueError("boom went " + text)

    @job(executor_def=in_process_executor)
    def hello():
        shout(greet())

    @job(executor_def=in_process_executor)
    def breaks():
        boom(greet())

    defs = Definitions(jobs=[hello, breaks])
    """
)


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def jobs_file(tmp_path):
    path = tmp_path / "cli_jobs.py"
    path.write_text(JOBS)
    return path


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


def _config(tmp_path, body="ops:\n  greet:\n    config:\n      name: ada\n"):
    path = tmp_path / "config.yaml"
    path.write_text(body)
    return path


def test_version_and_help():
    out = subprocess.run([sys.executable, "-m", "oprun", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("oprun ")
    helped = subprocess.run([sys.executable, "-m", "oprun", "job", "execute", "--help"], capture_output=True, text=True)
    assert "Example:" in helped.stdout and "--op-selection" in helped.stdout


def test_list_and_print(oprun, jobs_file):
    listed = oprun("job", "list", "-f", jobs_file)
    assert listed.returncode == 0, listed.stderr
    assert "Job: hello" in listed.stdout and "    greet" in listed.stdout
    printed = oprun("job", "print", "-f", jobs_file, "-j", "hello", "--verbose")
    assert printed.returncode == 0, printed.stderr
    assert "Input: text: String  <- greet.result" in printed.stdout


def test_execute_success_and_failure_exit_codes_and_history(oprun, jobs_file, tmp_path, home):
    config = _config(tmp_path)
    ok = oprun("job", "execute", "-f", jobs_file, "-j", "hello", "-c", config, "--tags", '{"team": "data"}')
    assert ok.returncode == 0, ok.stderr
    failed = oprun("job", "execute", "-f", jobs_file, "-j", "breaks", "-c", config)
    assert failed.returncode == 1
    assert "resulted in failure" in failed.stderr
    with DagsterInstance.from_directory(str(home)) as instance:
        runs = instance.get_runs()
        assert [r.job_name for r in runs] == ["breaks", "hello"]
        assert runs[1].tags["team"] == "data"
    listed = oprun("run", "list", "--json")
    data = json.loads(listed.stdout)
    assert [r["status"] for r in data] == ["FAILURE", "SUCCESS"]
    only_failed = json.loads(oprun("run", "list", "--status", "failure", "--json").stdout)
    assert [r["job_name"] for r in only_failed] == ["breaks"]
    tagged = json.loads(oprun("run", "list", "--tag", "team=data", "--json").stdout)
    assert [r["job_name"] for r in tagged] == ["hello"]
    shown = json.loads(oprun("run", "show", data[1]["run_id"], "--json").stdout)
    assert {s["step_key"]: s["status"] for s in shown["steps"]} == {"greet": "SUCCESS", "shout": "SUCCESS"}
    logs = oprun("run", "logs", data[1]["run_id"], "--step", "greet")
    assert "STEP_SUCCESS" in logs.stdout and "printing ada" in logs.stdout


def test_reexecute_delete_and_prune(oprun, jobs_file, tmp_path, home):
    config = _config(tmp_path)
    assert oprun("job", "execute", "-f", jobs_file, "-j", "hello", "-c", config).returncode == 0
    with DagsterInstance.from_directory(str(home)) as instance:
        run_id = instance.get_runs()[0].run_id
    again = oprun("run", "reexecute", run_id)
    assert again.returncode == 0, again.stderr
    from_failure = oprun("run", "reexecute", run_id, "--from-failure")
    assert from_failure.returncode == 2 and "not FAILURE" in from_failure.stderr
    assert oprun("run", "delete", run_id).returncode == 0
    pruned = oprun("run", "prune", "--older-than", "0m")
    assert pruned.returncode == 0 and "Deleted 1 run" in pruned.stdout
    assert oprun("run", "prune", "--older-than", "soon").returncode == 2


def test_launch_returns_at_once_and_the_run_completes(oprun, jobs_file, tmp_path, home):
    launched = oprun("job", "launch", "-f", jobs_file, "-j", "hello", "-c", _config(tmp_path))
    assert launched.returncode == 0, launched.stderr
    run_id = launched.stdout.strip()
    with DagsterInstance.from_directory(str(home)) as instance:
        launcher = instance.run_launcher
        # The launching process has exited; follow the run through the instance.
        import time

        deadline = time.monotonic() + 60
        while instance.get_run_by_id(run_id).status not in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
            assert time.monotonic() < deadline, "the launched run did not finish"
            time.sleep(0.05)  # another process's progress, seen only through the instance
        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
        del launcher


def test_scaffold_and_validate_config(oprun, jobs_file, tmp_path):
    scaffold = oprun("job", "scaffold-config", "-f", jobs_file, "-j", "hello", "--print-only-required")
    assert scaffold.returncode == 0
    assert "name: ''" in scaffold.stdout and "times" not in scaffold.stdout
    valid = oprun("job", "validate-config", "-f", jobs_file, "-j", "hello", "-c", _config(tmp_path))
    assert valid.returncode == 0 and "valid" in valid.stdout
    invalid = oprun("job", "validate-config", "-f", jobs_file, "-j", "hello", "--config-json", '{"ops": {"greet": {"config": {"nam": "x"}}}}')
    assert invalid.returncode == 1
    assert "root:ops:greet:config:nam" in invalid.stderr and "Did you mean 'name'" in invalid.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (("job", "list", "-f", "missing.py"), "missing.py"),
        (("job", "execute", "-f", "{jobs}", "-j", "helo"), "Did you mean 'hello'"),
        (("job", "execute", "-f", "{jobs}"), "Must provide --job"),
        (("job", "execute", "-f", "{jobs}", "-j", "hello", "--tags", "{bad"), "Invalid JSON-string given for `--tags`"),
        (("job", "execute", "-f", "{jobs}", "-j", "hello", "-c", "a.yaml", "--config-json", "{}"), "Cannot specify both"),
        (("job", "execute", "-f", "{jobs}", "-j", "hello"), "root:ops"),
        (("run", "show", "no-such-run"), "no run no-such-run"),
        (("run", "list", "--status", "FAILD"), "Did you mean 'FAILURE'"),
        (("jbo", "list"), "No such command"),
    ],
)
def test_bad_input_is_one_clear_message_without_traceback(oprun, jobs_file, home, args, expected):
    args = [a.replace("{jobs}", str(jobs_file)) for a in args]
    result = oprun(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert expected in said
    assert "Traceback" not in said
    if home.exists():
        with DagsterInstance.from_directory(str(home)) as instance:
            assert instance.get_runs() == []


def test_syntax_errors_name_file_and_line_and_verbose_shows_a_traceback(oprun, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("from oprun import job\n\ndef oops(:\n    pass\n")
    quiet = oprun("job", "list", "-f", broken)
    assert quiet.returncode == 2 and "broken.py" in quiet.stderr and "line 3" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    loud = oprun("--verbose", "job", "list", "-f", broken)
    assert loud.returncode == 2 and "Traceback" in loud.stderr


def test_instance_info_and_migrate(oprun, home):
    info = oprun("instance", "info", "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["root_directory"] == str(home)
    migrated = oprun("instance", "migrate")
    assert migrated.returncode == 0 and "schema revision" in migrated.stdout
