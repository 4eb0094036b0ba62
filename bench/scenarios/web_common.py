"""What the web server scenarios share: a server process per side, a GraphQL
client, and the server's memory.

Each web scenario runs a real server, `oprun webserver` or Dagster's
`dagster-webserver`, as a child process on a free loopback port, on a home
directory the scenario fills, and talks to it over HTTP with the standard
library only (the same client code on both sides). A Dagster server also
starts a code server process for its `-f` file; both are stopped (SIGTERM,
then SIGKILL) at the end of the scenario.

Both homes get the same instance file: the queued run coordinator (as
`dagster dev` uses; no daemon runs, so submitted runs stay QUEUED) and
telemetry off.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

INSTANCE_YAML = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
telemetry:
  enabled: false
"""

JOB_MODULE = """\
from {package} import Definitions, job, op


@op
def touch():
    return 1


@job
def tiny_job():
    touch()


defs = Definitions(jobs=[tiny_job])
"""

REPOSITORIES_QUERY = """
query GraphQLClientGetJobNames {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } pipelines { name } } }
    ... on PythonError { message }
  }
}
"""

START_TIMEOUT_S = 120.0


def prepare_home(home, package):
    """The instance file and the tiny job module in `home`; the module's path."""
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "dagster.yaml"), "w") as f:
        f.write(INSTANCE_YAML)
    module = os.path.join(home, "web_jobs.py")
    with open(module, "w") as f:
        f.write(JOB_MODULE.format(package=package))
    return module


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(package, module, port):
    """The command that serves `module` on `port`, for this interpreter's side."""
    bin_dir = os.path.dirname(sys.executable)
    if package == "oprun":
        return [sys.executable, "-m", "oprun", "webserver", "-f", module, "-h", "127.0.0.1", "-p", str(port)]
    return [os.path.join(bin_dir, "dagster-webserver"), "-f", module, "-h", "127.0.0.1", "-p", str(port)]


class Server:
    """A server child process and its GraphQL URL."""

    def __init__(self, package, module, home):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OPRUN_HOME": home, "DAGSTER_HOME": home}
        env.pop("OPRUN_TOKEN", None)
        # The server's stderr is kept (not read while timing) to say why it failed.
        self.log_path = os.path.join(home, f"server-{self.port}.log")
        log = open(self.log_path, "wb")  # the child writes to it; closed here once it has it
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            server_command(package, module, self.port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=home,
            env=env,
            start_new_session=True,  # its own process group: the code server goes with it
        )
        log.close()

    def log_tail(self, lines=8):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def graphql(self, query, variables=None, timeout=60.0):
        """POST one GraphQL request; the decoded JSON answer (raises on HTTP errors)."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def wait_first_answer(self, query=REPOSITORIES_QUERY, ready=None):
        """Poll until the server answers `query` (and `ready(answer)` holds); the
        seconds from the process's start to that answer."""
        deadline = self.started_at + START_TIMEOUT_S
        answer = None
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode} before answering: {self.log_tail()}")
            try:
                answer = self.graphql(query, timeout=30.0)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.005)
                continue
            if ready is None or ready(answer):
                return time.perf_counter() - self.started_at, answer
            time.sleep(0.005)
        raise AssertionError(f"the server did not answer as expected in {START_TIMEOUT_S:g} s; last answer {str(answer)[:300]}; {self.log_tail()}")


def lists_job(job_name):
    """A `ready` predicate: the repositories answer lists `job_name`."""

    def ready(answer):
        result = ((answer or {}).get("data") or {}).get("repositoriesOrError") or {}
        return any(job_name == p["name"] for node in result.get("nodes") or () for p in node.get("pipelines") or ())

    return ready


def location_of(answer, job_name):
    """(location name, repository name) of `job_name` in a repositories answer."""
    for node in answer["data"]["repositoriesOrError"]["nodes"]:
        if any(p["name"] == job_name for p in node["pipelines"]):
            return node["location"]["name"], node["name"]
    raise AssertionError(f"{job_name} is not listed: {answer}")


@contextlib.contextmanager
def serving(package, module, home):
    server = Server(package, module, home)
    try:
        yield server
    finally:
        server.stop()


def rss_bytes(pid):
    """The resident set size of process `pid` (Linux), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class RssSampler:
    """Samples a process's RSS every `interval` seconds on a thread; `peak` is the
    largest value seen."""

    def __init__(self, pid, interval=0.01):
        self.pid = pid
        self.interval = interval
        self.peak = rss_bytes(pid) or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            value = rss_bytes(self.pid)
            if value is None:
                return
            self.peak = max(self.peak, value)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        value = rss_bytes(self.pid)
        if value is not None:
            self.peak = max(self.peak, value)


def quiet_stdout():
    """Send this process's stdout to stderr until the returned callable is called:
    libraries that print must not get in front of the result line."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)

    def restore():
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)

    return restore
