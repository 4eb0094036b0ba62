"""`oprun webserver` (Dagster's `dagster-webserver`) and `oprun dev` (Dagster's
`dagster dev`: the web server with GraphiQL and code reloading, plus the
daemon as a child process). docs/web.md says what each serves and how it stops.

`-h` is the host here, as in Dagster; these two commands take only `--help`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import click

from oprun.cli.errors import CliFailure, user_errors
from oprun.cli.jobs import location_options

DAEMON_STOP_SECONDS = 30
RESTART_LIMIT = 3  # daemon deaths within RESTART_WINDOW_SECONDS before `oprun dev` gives up
RESTART_WINDOW_SECONDS = 60


def server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "-h", "--host", default="127.0.0.1", show_default=True,
            help="The address to listen on (0.0.0.0: every interface, which needs --token).",
        ),
        click.option("-p", "--port", default=3000, show_default=True, type=click.IntRange(0, 65535), help="The port to listen on (0: any free port)."),
        click.option("-l", "--path-prefix", default="", help="Serve under this path, e.g. /oprun (GraphQL at /oprun/graphql)."),
        click.option(
            "--allowed-host", "allowed_hosts", multiple=True,
            help="Also accept requests with this Host header (repeatable; '*' for any). On loopback only localhost names are accepted by default.",
        ),
        click.option(
            "--token", envvar="OPRUN_TOKEN", default=None,
            help="Require this token of every request (Authorization: Bearer TOKEN, or /login?token=TOKEN once in a browser). "
            "Needed to listen on an address other than loopback. Also read from $OPRUN_TOKEN.",
        ),
        click.option("--read-only", is_flag=True, help="Serve queries only: every mutation (launch, terminate, reload) is refused."),
        click.option(
            "--uvicorn-log-level", default="warning", show_default=True,
            type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="uvicorn's log level.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _context(kw: dict[str, Any], dev: bool) -> Any:
    from oprun.cli.jobs import _locations
    from oprun.daemon.base import Workspace
    from oprun.instance import DagsterInstance
    from oprun.instance.instance import check_home_config, home_directory
    from oprun.web.context import OpeningInstance, WebContext

    workspace = Workspace(_locations(kw))
    with user_errors():
        check_home_config(home_directory())  # a bad oprun.yaml stops the server before it starts
    # The storage opens once the port is bound (`_open_instance`).
    instance = OpeningInstance(DagsterInstance.get)
    return WebContext(instance=instance, workspace=workspace, dev=dev, read_only=bool(kw.get("read_only")))


def _open_instance(context: Any, stop: Callable[[], None], failures: list[BaseException]) -> None:
    """Start opening the server's instance (once its port is bound). When the
    storage cannot be opened (a database too new, a server unreachable), the
    error is printed as any user error is, added to `failures`, and the server
    stops."""

    def failed(error: BaseException) -> None:
        failures.append(error)
        try:
            with user_errors():
                raise error
        except CliFailure as failure:
            click.echo(failure.message, err=True)
        except BaseException:  # noqa: BLE001 - not a user's mistake: shown whole
            click.echo("Error: the instance could not be opened:\n" + "".join(traceback.format_exception(error)), err=True)
        stop()

    context.instance.start(failed)


def _token(kw: dict[str, Any], generate: bool) -> str | None:
    """The token the server requires: the one given; none on loopback; on any
    other address one is needed (`oprun dev` makes one and prints a login URL,
    as Jupyter does; `oprun webserver` refuses to start without)."""
    from oprun.web.app import is_loopback

    token = kw.get("token") or None
    if token is not None or is_loopback(kw["host"]):
        return token
    if not generate:
        raise CliFailure(
            f"Error: listening on {kw['host']} serves the API to the network, and it has no accounts: give a token "
            "that every request must carry (--token TOKEN or $OPRUN_TOKEN), or listen on 127.0.0.1.", 2,
        )
    import secrets

    made = secrets.token_urlsafe(24)
    kw["print_login_url"] = True
    return made


def _app(context: Any, kw: dict[str, Any]) -> Any:
    from oprun.web.app import create_app

    with user_errors():
        try:
            return create_app(
                context, path_prefix=kw["path_prefix"], bind_host=kw["host"], allowed_hosts=kw["allowed_hosts"], token=kw.get("token"),
            )
        except ValueError as exc:
            raise CliFailure(f"Error: {exc}", 2) from exc


@click.command("webserver", context_settings={"help_option_names": ["--help"]})
@location_options
@server_options
def webserver(**kw: Any) -> None:
    """Serve the GraphQL API (POST /graphql, what DagsterGraphQLClient talks to)
    on the instance of $OPRUN_HOME and the code locations named by -f/-m/-w.
    Stops on Ctrl-C or SIGTERM. `-h` is the host: use --help for help.

    Example: oprun webserver -f jobs.py -p 3000
    """
    kw["token"] = _token(kw, generate=False)
    context = _context(kw, dev=False)
    try:
        _serve(context, _app(context, kw), kw)
    finally:
        context.instance.dispose()


def _serve(
    context: Any, app: Any, kw: dict[str, Any], *,
    on_bound: Callable[[Callable[[], None]], None] | None = None,
    on_exit: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    """Serve `app` until stopped. Once the port is bound: print where (and the
    login URL `oprun dev` made), open the instance (`_open_instance`), then call
    `on_bound(stop)`, where `stop()` stops the server. `on_exit` runs at the stop
    signal, `after` once the server has returned. A port that cannot be bound
    or an instance that cannot be opened is a CliFailure (exit 2)."""
    from oprun.web.server import make_server, url_host

    failures: list[BaseException] = []
    servers: list[Any] = []

    def stop() -> None:
        servers[0].should_exit = True

    def bound(host: str, port: int) -> None:
        click.echo(f"Serving oprun on http://{url_host(host)}:{port}")
        if kw.get("print_login_url"):
            prefix = kw["path_prefix"].rstrip("/")
            click.echo(f"Log in once, in the browser, with http://{url_host(host)}:{port}{prefix}/login?token={kw['token']}")
        _open_instance(context, stop, failures)
        if on_bound is not None:
            on_bound(stop)

    server = make_server(app, kw["host"], kw["port"], log_level=kw["uvicorn_log_level"], on_bound=bound, on_exit=on_exit)
    servers.append(server)
    try:
        server.run()
    except SystemExit:  # uvicorn exits 1 when it cannot bind, after logging why
        pass
    finally:
        if after is not None:
            after()
    if not server.started:
        raise CliFailure(f"Error: could not serve on {kw['host']}:{kw['port']}.", 2)
    if failures:
        raise CliFailure("", 2)


def _location_args(kw: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for path in kw.get("python_files") or ():
        args += ["-f", path]
    for name in kw.get("module_names") or ():
        args += ["-m", name]
    for flag, key in (("-d", "working_directory"), ("-a", "attribute"), ("-w", "workspace")):
        if kw.get(key):
            args += [flag, kw[key]]
    return args


class _Daemon:
    """The daemon child of `oprun dev`: its output goes to dev's stderr; when it
    dies on its own, it is restarted, up to RESTART_LIMIT times a minute."""

    def __init__(self, args: list[str]) -> None:
        self.command = [sys.executable, "-m", "oprun", "daemon", "run", *args]
        self.on_give_up: Callable[[], None] = lambda: None
        self.stopping = threading.Event()
        self.gave_up = False
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="oprun-dev-daemon", daemon=True)

    def start(self, on_give_up: Callable[[], None]) -> None:
        """Start the daemon; `on_give_up` is called if it keeps dying."""
        self.on_give_up = on_give_up
        self._spawn()
        if self.process is not None:
            self._watcher.start()

    def _spawn(self) -> None:
        with self._lock:
            if not self.stopping.is_set():
                self.process = subprocess.Popen(self.command, stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno())

    def _watch(self) -> None:
        deaths: list[float] = []
        while True:
            process = self.process
            assert process is not None
            code = process.wait()
            if self.stopping.is_set():
                return
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < RESTART_WINDOW_SECONDS] + [now]
            if len(deaths) > RESTART_LIMIT:
                click.echo(f"oprun dev: the daemon died {len(deaths)} times in a minute (last exit status {code}); stopping.", err=True)
                self.gave_up = True
                self.on_give_up()
                return
            click.echo(f"oprun dev: the daemon exited with status {code}; restarting it.", err=True)
            if self.stopping.wait(1.0):
                return
            self._spawn()

    def stop(self) -> None:
        """SIGTERM to the daemon (it finishes its iterations and releases its lease)."""
        with self._lock:
            self.stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)

    def wait(self) -> None:
        process = self.process
        if process is None:
            return
        try:
            process.wait(timeout=DAEMON_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            click.echo(f"oprun dev: the daemon did not stop in {DAEMON_STOP_SECONDS} s; killing it.", err=True)
            process.kill()
            process.wait()


@click.command("dev", context_settings={"help_option_names": ["--help"]})
@location_options
@server_options
def dev(**kw: Any) -> None:
    """Local development: the web server with GraphiQL (GET /graphql in a
    browser) and code reloading, plus the daemon (schedules, sensors, the run
    queue), on the instance of $OPRUN_HOME. Without $OPRUN_HOME, a temporary
    home is made in the current directory and removed on exit. Ctrl-C or SIGTERM
    stops the daemon, then the server. `-h` is the host: use --help for help.

    Example: oprun dev -f jobs.py
    """
    kw["token"] = _token(kw, generate=True)
    temporary_home = None
    if not (os.environ.get("OPRUN_HOME") or os.environ.get("DAGSTER_HOME")):
        temporary_home = tempfile.mkdtemp(prefix=".tmp_oprun_home_", dir=os.getcwd())
        os.environ["OPRUN_HOME"] = temporary_home
        click.echo(f"oprun dev: OPRUN_HOME is not set; using the temporary home {temporary_home} (removed on exit).", err=True)
    try:
        context = _context(kw, dev=True)
        try:
            daemon = _Daemon(_location_args(kw))

            def stop_daemon() -> None:
                daemon.stop()
                daemon.wait()

            # The daemon starts once the port is ours: a taken port starts no daemon.
            _serve(context, _app(context, kw), kw, on_bound=daemon.start, on_exit=daemon.stop, after=stop_daemon)
            if daemon.gave_up:
                raise CliFailure("", 1)
        finally:
            context.instance.dispose()
    finally:
        if temporary_home is not None:
            shutil.rmtree(temporary_home, ignore_errors=True)
