"""Clear errors for a user's mistakes, through the real `oprun` command line: one
message naming the place, exit 2, no traceback unless `--verbose`.

- a binary (non-UTF-8 / non-YAML) file given with `-c/--config` is named;
- an unreachable PostgreSQL (the instance config pointing at a closed port)
  names the host and port, masks the URL's password, and keeps the driver's
  error as the cause;
- a number out of range in `--config-json` names its config path."""

import textwrap

import pytest

from oprun import DagsterInstance
from tests.cli import test_cli as _cli

home, jobs_file, oprun = _cli.home, _cli.jobs_file, _cli.oprun  # the CLI fixtures, reused

NUMBERS = textwrap.dedent(
    """
    from oprun import Config, Definitions, in_process_executor, job, op

    class Scale(Config):
        factor: float
        steps: list[float] = []

    @op
    def scale(config: Scale) -> float:
        return config.factor

    @job(executor_def=in_process_executor)
    def scaled():
        scale()

    defs = Definitions(jobs=[scaled])
    """
)

PASSWORD = "s3cret-Pa55word"


def _no_runs(home):
    if home.exists():
        with DagsterInstance.from_directory(str(home)) as instance:
            assert instance.get_runs() == []


def _clear_failure(result, *expected):
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    for text in expected:
        assert text in said, said
    assert "Traceback" not in said
    return said


# -- a binary config file ------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", bytes(range(128, 256)), b"\xff\xfe\x00o\x00p\x00s\x00"],
    ids=["png", "latin-1-bytes", "utf-16"],
)
@pytest.mark.parametrize("command", ["execute", "launch", "validate-config"])
def test_a_binary_config_file_is_named(oprun, jobs_file, tmp_path, home, content, command):
    binary = tmp_path / "picture.yaml"
    binary.write_bytes(content)
    result = oprun("job", command, "-f", jobs_file, "-j", "hello", "-c", binary)
    said = _clear_failure(result, "picture.yaml")
    assert "Error (" not in said  # not a raw Python exception
    _no_runs(home)


def test_a_binary_file_matched_by_a_glob_is_named_and_text_files_still_merge(oprun, jobs_file, tmp_path, home):
    (tmp_path / "a.yaml").write_text("ops:\n  greet:\n    config:\n      name: ada\n")
    (tmp_path / "b.yaml").write_bytes(b"\xff\xfe\x00garbage")
    result = oprun("job", "execute", "-f", jobs_file, "-j", "hello", "-c", str(tmp_path / "*.yaml"))
    said = _clear_failure(result, "b.yaml")
    assert "a.yaml" not in said
    _no_runs(home)
    (tmp_path / "b.yaml").write_text("ops:\n  greet:\n    config:\n      times: 2\n")
    valid = oprun("job", "validate-config", "-f", jobs_file, "-j", "hello", "-c", tmp_path / "a.yaml", "-c", tmp_path / "b.yaml")
    assert valid.returncode == 0, valid.stderr
    missing = oprun("job", "validate-config", "-f", jobs_file, "-j", "hello", "-c", tmp_path / "nothing-*.yaml")
    _clear_failure(missing, "nothing-*.yaml")


def test_verbose_shows_the_traceback_of_a_binary_config_file(oprun, jobs_file, tmp_path):
    binary = tmp_path / "picture.yaml"
    binary.write_bytes(bytes(range(128, 256)))
    loud = oprun("--verbose", "job", "execute", "-f", jobs_file, "-j", "hello", "-c", binary)
    assert loud.returncode == 2 and "picture.yaml" in loud.stderr


# -- an unreachable PostgreSQL ---------------------------------------------------------


@pytest.mark.parametrize(
    "storage",
    [
        f"postgres_url: postgresql://alice:{PASSWORD}@127.0.0.1:1/oprun_db",
        f"postgres_db: {{username: alice, password: {PASSWORD}, hostname: 127.0.0.1, port: 1, db_name: oprun_db}}",
    ],
    ids=["postgres_url", "postgres_db"],
)
@pytest.mark.parametrize(
    "args",
    [("run", "list"), ("instance", "info"), ("instance", "migrate"), ("job", "execute", "-f", "{jobs}", "-j", "hello")],
    ids=["run-list", "instance-info", "instance-migrate", "job-execute"],
)
def test_an_unreachable_postgres_names_host_and_port_and_masks_the_password(oprun, jobs_file, home, storage, args):
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    {storage}\n")
    result = oprun(*[a.replace("{jobs}", str(jobs_file)) for a in args])
    said = _clear_failure(result, "127.0.0.1:1", "PostgreSQL", "oprun_db", "alice:***@127.0.0.1:1")
    assert PASSWORD not in said
    assert "Error (" not in said and "OperationalError" not in said  # not the raw driver error
    loud = oprun("--verbose", *[a.replace("{jobs}", str(jobs_file)) for a in args])
    assert loud.returncode == 2 and "Traceback" in loud.stderr and PASSWORD not in loud.stderr


def test_the_postgres_connect_error_keeps_the_drivers_cause(tmp_path):
    from oprun.errors import DagsterStorageError

    home = tmp_path / "pg_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: postgresql://alice:{PASSWORD}@127.0.0.1:1/oprun_db\n")
    with pytest.raises(DagsterStorageError) as raised:
        DagsterInstance.from_directory(str(home))
    assert "127.0.0.1:1" in str(raised.value) and PASSWORD not in str(raised.value)
    import psycopg

    assert isinstance(raised.value.__cause__, psycopg.OperationalError)


def test_a_postgres_server_that_never_answers_is_given_up_on_with_host_and_port(tmp_path, monkeypatch):
    # A listening socket nobody reads: the TCP handshake completes (the backlog
    # takes it), then libpq waits for an answer that never comes, as behind a
    # firewall that drops packets. Without a connect timeout it waits forever.
    import socket

    from oprun.errors import DagsterStorageError
    from oprun.instance import sql

    monkeypatch.setattr(sql, "CONNECT_TIMEOUT_SECONDS", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(DagsterStorageError) as raised:
            sql.PostgresRunStorage(f"postgresql+psycopg://alice:{PASSWORD}@127.0.0.1:{port}/oprun_db")
    assert f"127.0.0.1:{port}" in str(raised.value) and PASSWORD not in str(raised.value)
    assert "timeout" in str(raised.value).lower()


# -- numbers out of range in --config-json -----------------------------------------------


@pytest.fixture
def numbers_file(tmp_path):
    path = tmp_path / "number_jobs.py"
    path.write_text(NUMBERS)
    return path


@pytest.mark.parametrize(
    "value, path",
    [
        ('{"factor": 1e400}', "root:ops:scale:config:factor"),
        ('{"factor": -2.5E+999}', "root:ops:scale:config:factor"),
        ('{"factor": 1.0, "steps": [1.0, 1e400]}', "root:ops:scale:config:steps[1]"),
        ('{"factor": 1' + "0" * 400 + "}", "root:ops:scale:config:factor"),
        ('{"factor": 1' + "0" * 5000 + "}", "root:ops:scale:config:factor"),
        ('{"factor": 1.0, "steps": [-1' + "0" * 5000 + "]}", "root:ops:scale:config:steps[0]"),
    ],
    ids=["1e400", "negative-exponent-form", "in-a-list", "10**400-int", "5001-digit-int", "5001-digit-int-in-a-list"],
)
@pytest.mark.parametrize("command", ["execute", "validate-config"])
def test_a_number_out_of_range_in_config_json_names_its_path(oprun, numbers_file, home, value, path, command):
    result = oprun("job", command, "-f", numbers_file, "-j", "scaled", "--config-json", '{"ops": {"scale": {"config": ' + value + "}}}")
    said = result.stdout + result.stderr
    # 2 for what the CLI refuses as it reads the JSON, 1 when validation reports it
    assert result.returncode == 2 or (command == "validate-config" and result.returncode == 1), said
    assert path in said, said
    assert "Traceback" not in said and "Error (" not in said
    _no_runs(home)


def test_numbers_in_range_still_run_and_the_message_names_the_number(oprun, numbers_file):
    refused = oprun("job", "execute", "-f", numbers_file, "-j", "scaled", "--config-json", '{"ops": {"scale": {"config": {"factor": 1e400}}}}')
    _clear_failure(refused, "`--config-json`", "root:ops:scale:config:factor", "1e400", "out of range")
    ok = oprun("job", "execute", "-f", numbers_file, "-j", "scaled", "--config-json", '{"ops": {"scale": {"config": {"factor": 1.5e300, "steps": [2]}}}}')
    assert ok.returncode == 0, ok.stderr
