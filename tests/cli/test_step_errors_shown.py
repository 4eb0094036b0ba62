"""A failed step shows its cause, through the real `oprun` command line: the
exception's class, message and stack trace (and what it was caused by) under the
STEP_FAILURE line of `job execute` (as Dagster's console prints it), in `run
logs` and `run logs --step`, and per failed step in `run show` (text and
`--json`); a run-level failure (a resource that cannot be built) shows its error
the same way."""

import json
import textwrap

from tests.cli import test_cli as _cli
from tests.cli.test_cli import _config

home, jobs_file, oprun = _cli.home, _cli.jobs_file, _cli.oprun  # the CLI fixtures, reused

FAILING = textwrap.dedent(
    """
    from oprun import Definitions, in_process_executor, job, multiprocess_executor, op, resource

    def _check(text):
        raise ValueError("the sky fell on " + text)

    @op
    def greet() -> str:
        return "ada"

    @op
    def wraps(text: str):
        try:
            _check(text)
        except ValueError as exc:
            raise KeyError("wrapped failure") from exc

    @job(executor_def=in_process_executor)
    def chained():
        wraps(greet())

    @job(executor_def=multiprocess_executor)
    def chained_mp():
        wraps(greet())

    @resource
    def database(_):
        raise ConnectionError("the database at db.internal:5432 is down")

    @op(required_resource_keys={"db"})
    def query(context):
        return 1

    @job(resource_defs={"db": database}, executor_def=in_process_executor)
    def needs_db():
        query()

    defs = Definitions(jobs=[chained, chained_mp, needs_db])
    """
)


def _failing_file(tmp_path):
    path = tmp_path / "failing_jobs.py"
    path.write_text(FAILING)
    return path


def _only_run_id(oprun):
    runs = json.loads(oprun("run", "list", "--json").stdout)
    return runs[0]["run_id"]


def _after(text, marker):
    assert marker in text, text
    return text[text.index(marker):]


def test_execute_prints_the_error_class_message_and_stack_under_the_step_failure_line(oprun, jobs_file, tmp_path):
    failed = oprun("job", "execute", "-f", jobs_file, "-j", "breaks", "-c", _config(tmp_path))
    assert failed.returncode == 1, failed.stderr
    shown = _after(failed.stderr, "STEP_FAILURE - Execution of step \"boom\" failed.")
    before_run_failure = shown[: shown.index("RUN_FAILURE")]
    assert "ValueError: boom went ada" in before_run_failure
    assert "Stack Trace:" in before_run_failure
    assert "cli_jobs.py" in before_run_failure and 'raise ValueError("boom went " + text)' in before_run_failure
    assert "resulted in failure" in failed.stderr


def test_the_cause_chain_is_shown_in_process_and_from_step_workers(oprun, tmp_path):
    jobs = _failing_file(tmp_path)
    for job_name in ("chained", "chained_mp"):
        failed = oprun("job", "execute", "-f", jobs, "-j", job_name)
        assert failed.returncode == 1, failed.stderr
        shown = _after(failed.stderr, 'STEP_FAILURE - Execution of step "wraps" failed.')
        assert "KeyError: 'wrapped failure'" in shown, job_name
        assert "The above exception was caused by the following exception:\nValueError: the sky fell on ada" in shown, job_name
        assert 'raise ValueError("the sky fell on " + text)' in shown, job_name


def test_run_logs_and_step_logs_show_the_error_under_the_step_failure_line(oprun, jobs_file, tmp_path):
    assert oprun("job", "execute", "-f", jobs_file, "-j", "breaks", "-c", _config(tmp_path)).returncode == 1
    run_id = _only_run_id(oprun)
    for args in (("run", "logs", run_id), ("run", "logs", run_id, "--step", "boom")):
        logs = oprun(*args)
        assert logs.returncode == 0, logs.stderr
        shown = _after(logs.stdout, "STEP_FAILURE")
        assert "ValueError: boom went ada" in shown, args
        assert "Stack Trace:" in shown and 'raise ValueError("boom went " + text)' in shown, args


def test_run_show_gives_each_failed_steps_error_in_text_and_json(oprun, jobs_file, tmp_path):
    assert oprun("job", "execute", "-f", jobs_file, "-j", "breaks", "-c", _config(tmp_path)).returncode == 1
    run_id = _only_run_id(oprun)
    shown = oprun("run", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    text = _after(shown.stdout, "Step boom failed:")
    assert "ValueError: boom went ada" in text and 'raise ValueError("boom went " + text)' in text
    assert "Step greet" not in shown.stdout
    data = json.loads(oprun("run", "show", run_id, "--json").stdout)
    steps = {s["step_key"]: s for s in data["steps"]}
    assert steps["greet"]["error"] is None
    error = steps["boom"]["error"]
    assert error["cls_name"] == "ValueError" and error["message"] == "ValueError: boom went ada"
    assert any('raise ValueError("boom went " + text)' in frame for frame in error["stack"])
    assert data["error"] is None  # the run failed only because a step did


def test_run_show_gives_the_cause_of_a_failed_step(oprun, tmp_path):
    assert oprun("job", "execute", "-f", _failing_file(tmp_path), "-j", "chained").returncode == 1
    data = json.loads(oprun("run", "show", _only_run_id(oprun), "--json").stdout)
    (wraps,) = [s for s in data["steps"] if s["step_key"] == "wraps"]
    assert wraps["error"]["cls_name"] == "KeyError"
    assert wraps["error"]["cause"]["message"] == "ValueError: the sky fell on ada"


def test_a_run_level_failure_shows_its_error(oprun, tmp_path):
    failed = oprun("job", "execute", "-f", _failing_file(tmp_path), "-j", "needs_db")
    assert failed.returncode == 1, failed.stderr
    shown = _after(failed.stderr, "RUN_FAILURE")
    assert "ConnectionError: the database at db.internal:5432 is down" in shown
    assert "Stack Trace:" in shown and "failing_jobs.py" in shown
    run_id = _only_run_id(oprun)
    logs = oprun("run", "logs", run_id)
    assert "Stack Trace:" in _after(logs.stdout, "RUN_FAILURE")
    text = oprun("run", "show", run_id).stdout
    assert "ConnectionError: the database at db.internal:5432 is down" in _after(text, "Run failed:")
    data = json.loads(oprun("run", "show", run_id, "--json").stdout)
    assert data["error"]["cls_name"] == "DagsterResourceFunctionError"
    assert "the database at db.internal:5432 is down" in data["error"]["message"]
    cause = data["error"]["cause"]
    assert cause["cls_name"] == "ConnectionError"
    assert any("failing_jobs.py" in frame for frame in cause["stack"])
