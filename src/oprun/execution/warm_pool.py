"""A warm pool of run workers: `WarmRunLauncher` starts a launched run in tens of
milliseconds instead of the hundreds a fresh `python -m oprun.execution.run_worker`
takes (an interpreter, oprun's imports, the user's code).

The launcher keeps one *zygote* per code location: a process (`python -m
oprun.execution.warm_pool`) that has imported oprun's execution modules and, on
its first launch, the location's code. For each run it forks a child, which
starts a session of its own, sends its output to the run's `run_worker.log`,
opens a fresh instance and runs `run_worker.main(RUN_ID)`: the very code path
of the DefaultRunLauncher's worker. A spare zygote (oprun imported, no user
code) is kept ready, so a new location, a restart or a replacement costs only
the import of the user's code.

Why this is safe to fork:

- A zygote never holds an instance: it opens one at start (to import the
  storage's modules), disposes of it, and each child opens its own.
- It forks only while it has a single thread (counted in /proc/self/task, which
  sees native threads too). If the user's code starts threads when imported,
  the location is marked not preloadable: a fresh zygote forks children that
  import the code themselves.
- One location per zygote, with `sys.path[0]` and the working directory a fresh
  run worker would have, so two locations never share a module name.
- Before each fork the zygote compares the mtimes and sizes of every file it
  imported, oprun's and the location's (the standard library's aside); if one
  changed, it refuses and the launcher retires it and forks from a fresh
  zygote (a re-import in place could keep stale objects in modules that were
  not reloaded). Each child gets the
  launcher's environment of that launch; a variable changed since the zygote
  started also means a fresh zygote, so code that read the environment when
  imported sees what a fresh worker would.

The zygote is the children's parent: it reaps them and hands their exit codes
to the launcher with its next reply (the protocol is request/response, one JSON
line each way, over the zygote's stdin and stdout). A retired zygote serves no
launches and exits once its children have ended. A zygote that dies is
replaced; if none can start, the run is launched by the DefaultRunLauncher's
path, so no run is lost. `terminate()` is the DefaultRunLauncher's, from the
run's recorded tags; `close()` ends the zygotes, never the runs they started.

Configure it with `run_launcher: {module: oprun.execution.warm_pool, class:
WarmRunLauncher}` in oprun.yaml, or hand one to the daemon's run queue.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import IO, Any, NoReturn

from oprun.errors import DagsterRunNotFoundError
from oprun.execution.launcher import (
    RUN_WORKER_CREATE_TIME_TAG,
    RUN_WORKER_PGID_TAG,
    DefaultRunLauncher,
    _create_time,
    _run_worker,
)
from oprun.files import makedirs_private, private_opener

# How long a zygote gets to import oprun and say it is ready, and a launch to
# import the user's code and fork (a large location can take seconds).
_START_TIMEOUT_SECONDS = 60.0
_LAUNCH_TIMEOUT_SECONDS = 120.0
# How long the zygote waits for a forked child to start its session.
_CHILD_READY_SECONDS = 10.0
# Zygotes kept at most (one per location); the least recently used retires.
_MAX_ZYGOTES = 8
# Variables that change between calls without changing what code would import:
# pytest names the test phase in one. They do not restart a zygote.
_VOLATILE_VARIABLES = frozenset({"PYTEST_CURRENT_TEST"})
# Runs whose exit code wait() can still return, at most.
_RUNS_KEPT = 10_000
# wait() asks the zygote in slices of this, so the launcher's lock is never held long.
_WAIT_SLICE_SECONDS = 0.25


class _ZygoteGone(Exception):
    """The zygote died, closed its pipe, or did not answer in time."""


class _Zygote:
    """The launcher's end of one zygote process."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self.env = env
        self.location: str | None = None  # the location it serves, once assigned
        self.ready = False
        self.exits: dict[str, int] = {}  # run id -> its worker's exit code, as the zygote reported it
        self.children: dict[int, str] = {}  # pid -> run id, of the children not reported ended
        self._unmatched: dict[int, int] = {}  # exits reported before their launch was (a child dead at once)
        self.last_used = time.monotonic()
        self._buffer = b""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "oprun.execution.warm_pool"],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C to the daemon's terminal does not reach it
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out_fd = self.process.stdout.fileno()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self) -> None:
        if not self.ready:
            self._read(time.monotonic() + _START_TIMEOUT_SECONDS)
            self.ready = True

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.wait_ready()
        self.last_used = time.monotonic()
        try:
            self._in.write(json.dumps(message).encode() + b"\n")
            self._in.flush()
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise _ZygoteGone(f"cannot write to zygote {self.pid}: {exc}") from exc
        reply = self._read(time.monotonic() + timeout)
        for pid, code in (reply.get("exits") or {}).items():
            run_id = self.children.pop(int(pid), None)
            if run_id is None:
                self._unmatched[int(pid)] = int(code)
            else:
                self.exits[run_id] = int(code)
        return reply

    def add_child(self, pid: int, run_id: str) -> None:
        code = self._unmatched.pop(pid, None)
        if code is None:
            self.children[pid] = run_id
        else:
            self.exits[run_id] = code

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()  # hung (in the user's import, most likely)
                raise _ZygoteGone(f"zygote {self.pid} did not answer in time")
            readable, _, _ = select.select([self._out_fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._out_fd, 65536)
            if not chunk:
                self.close()
                raise _ZygoteGone(f"zygote {self.pid} exited")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        """End the zygote (EOF on its stdin: it exits at once; its children run on)."""
        with contextlib.suppress(OSError, ValueError):
            self._in.close()
        try:
            self.process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        with contextlib.suppress(OSError, ValueError):
            self._in.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


class WarmRunLauncher:
    """A run launcher with the DefaultRunLauncher's interface and semantics
    (`launch_run`, `terminate`, `wait`), whose runs are forked from warm zygotes.

    `preload_code=False` keeps the user's code out of the zygotes (each child
    imports it): slower, for code that must not be imported before a fork.
    """

    def __init__(self, instance: Any, grace_seconds: float = 10.0, preload_code: bool = True, max_zygotes: int = _MAX_ZYGOTES) -> None:
        self._instance = instance
        self._fallback = DefaultRunLauncher(instance, grace_seconds)
        self._preload = preload_code
        self._max_zygotes = max(1, max_zygotes)
        self._zygotes: dict[str, _Zygote] = {}  # location key -> its zygote
        self._retired: list[_Zygote] = []  # serve no launches; closed once their children end
        self._spare: _Zygote | None = None
        self._runs: dict[str, tuple[_Zygote, int]] = {}
        self._no_preload: set[str] = set()  # locations whose import starts threads
        self._broken = False  # no zygote can start here: the fallback launches every run
        self._closed = False
        # The daemon's loops are threads: one of them launches while another waits.
        self._lock = threading.RLock()
        self._start_spare()

    @property
    def grace_seconds(self) -> float:
        return self._fallback.grace_seconds

    @grace_seconds.setter
    def grace_seconds(self, value: float) -> None:
        self._fallback.grace_seconds = value

    # -- the launcher interface --

    def launch_run(self, run_id: str) -> int:
        """Start the run in a child of its location's zygote; returns its pid."""
        run = self._instance.get_run_by_id(run_id)
        if run is None:
            raise DagsterRunNotFoundError(f"Cannot launch run {run_id}: no such run.", run_id)
        with self._lock:
            return self._launch(run_id, run)

    def _launch(self, run_id: str, run: Any) -> int:
        self._tidy()
        origin = dict(run.job_code_origin or {})
        if self._closed or self._broken or not origin:
            return self._fallback.launch_run(run_id)  # no origin: the worker records why it cannot run
        cwd = origin.get("working_directory") or os.getcwd()
        key = _location_key(origin, cwd)
        log_dir = os.path.join(self._instance.compute_logs_directory(), run_id)
        makedirs_private(log_dir)
        message = {
            "op": "launch",
            "run_id": run_id,
            "origin": origin,
            "cwd": cwd,
            "log_path": os.path.join(log_dir, "run_worker.log"),
            "preload": self._preload and key not in self._no_preload,
        }
        env = self._child_env()
        message["env"] = env  # the child's environment is the launcher's at this launch, exactly
        pid: int | None = None
        for _attempt in range(3):  # a stale zygote, then one that imports threads, then give up
            zygote = self._zygote_for(key, env)
            if zygote is None:
                break
            try:
                reply = zygote.request(message, _LAUNCH_TIMEOUT_SECONDS)
            except _ZygoteGone as exc:
                print(f"oprun warm pool: {exc}; starting another", file=sys.stderr)
                self._forget(zygote)
                continue
            if reply.get("ok"):
                pid = int(reply["pid"])
                zygote.add_child(pid, run_id)
                self._remember(run_id, zygote, pid)
                break
            if reply.get("stale"):
                self._retire(zygote)  # the code changed: a fresh zygote imports it
                continue
            if reply.get("threads") and message["preload"]:
                self._no_preload.add(key)  # its import starts threads: fork before importing it
                message["preload"] = False
                self._retire(zygote)
                continue
            if reply.get("threads"):
                self._broken = True  # threads without any user code: this host cannot fork a zygote
                self._retire(zygote)
            else:
                print(f"oprun warm pool: zygote {zygote.pid} cannot fork: {reply.get('error')}", file=sys.stderr)
            break
        if pid is None:
            print(f"oprun warm pool: run {run_id} launched without it (no zygote could fork it)", file=sys.stderr)
            return self._fallback.launch_run(run_id)
        # Recorded here, before launch_run returns, as the DefaultRunLauncher does:
        # terminate() must find the worker from the first moment. The child records
        # its pid tag (RUN_WORKER_PID_TAG) when it starts the run, as a run worker does.
        tags = {RUN_WORKER_PGID_TAG: str(pid)}
        create_time = _create_time(pid)
        if create_time is not None:
            tags[RUN_WORKER_CREATE_TIME_TAG] = repr(create_time)
        self._instance.add_run_tags(run_id, tags)
        self._start_spare()  # if this launch took it: the next one warms up now the run is on its way
        return pid

    def wait(self, run_id: str, timeout: float | None = None) -> int | None:
        """Wait for a run worker this launcher started: its exit code, or None if
        it had not ended in `timeout` s, or if its code was lost with its zygote
        (killed): the run's status then says how it ended."""
        if run_id in self._fallback._children:  # noqa: SLF001 - the launcher this one falls back on
            return self._fallback.wait(run_id, timeout)
        entry = self._runs.get(run_id)
        if entry is None:
            return None
        zygote, pid = entry
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # The lock is taken a slice at a time: a launch from another thread goes between.
            remaining = _WAIT_SLICE_SECONDS if deadline is None else min(_WAIT_SLICE_SECONDS, deadline - time.monotonic())
            with self._lock:
                if run_id in zygote.exits:
                    return zygote.exits[run_id]
                if remaining <= 0:
                    return None
                orphan = zygote.children.get(pid) != run_id or not zygote.alive()
                if not orphan:
                    try:
                        reply = zygote.request({"op": "wait", "pid": pid, "timeout": remaining}, remaining + _START_TIMEOUT_SECONDS)
                    except _ZygoteGone:
                        self._forget(zygote)
                        continue
                    if run_id not in zygote.exits and not reply.get("running"):
                        zygote.children.pop(pid, None)  # not the zygote's child (any more): its code is lost
            if orphan:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                return self._wait_orphan(run_id, left)

    def terminate(self, run_id: str) -> bool:
        """Cancel a run: True if it was in progress (or queued) and is now CANCELED.
        The DefaultRunLauncher's termination, from the run's recorded tags."""
        return self._fallback.terminate(run_id)

    def start(self) -> None:
        """Wait until the spare zygote is ready (a warm-up; launches need not call it)."""
        with self._lock:
            self._start_ready_spare()

    def _start_ready_spare(self) -> None:
        if self._spare is not None:
            try:
                self._spare.wait_ready()
            except _ZygoteGone:
                self._spare = None
                self._start_spare()

    def zygote_pids(self) -> list[int]:
        """The pids of the zygotes serving launches (and the spare)."""
        with self._lock:
            zygotes = [*self._zygotes.values(), *([self._spare] if self._spare else [])]
            return [z.pid for z in zygotes if z.alive()]

    def close(self) -> None:
        """End every zygote. Runs already started go on: each is a session of its own."""
        with self._lock:
            self._closed = True
            zygotes = [*self._zygotes.values(), *self._retired, *([self._spare] if self._spare else [])]
            self._zygotes.clear()
            self._retired.clear()
            self._spare = None
        for zygote in zygotes:
            zygote.close()

    dispose = close

    def __enter__(self) -> WarmRunLauncher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- zygotes --

    def _child_env(self) -> dict[str, str]:
        return {**os.environ, **self._instance.environment_for_children()}

    def _start_spare(self) -> None:
        if self._spare is not None or self._closed or self._broken:
            return
        try:
            self._spare = _Zygote(self._child_env(), os.getcwd())
        except OSError as exc:
            print(f"oprun warm pool: cannot start a zygote ({exc}); runs start without it", file=sys.stderr)
            self._broken = True

    def _zygote_for(self, key: str, env: dict[str, str]) -> _Zygote | None:
        zygote = self._zygotes.get(key)
        if zygote is not None and (not _same_env(zygote.env, env) or not zygote.alive()):
            self._retire(zygote)
            zygote = None
        if zygote is not None:
            return zygote
        for _attempt in range(2):
            if self._spare is not None and (not _same_env(self._spare.env, env) or not self._spare.alive()):
                self._spare.close()
                self._spare = None
            self._start_spare()
            spare, self._spare = self._spare, None
            if spare is None:
                return None
            try:
                spare.wait_ready()
            except _ZygoteGone as exc:
                print(f"oprun warm pool: a zygote did not start ({exc})", file=sys.stderr)
                continue
            spare.location = key
            self._zygotes[key] = spare
            if len(self._zygotes) > self._max_zygotes:
                oldest = min((z for k, z in self._zygotes.items() if k != key), key=lambda z: z.last_used)
                self._retire(oldest)
            return spare
        self._broken = True
        print("oprun warm pool: zygotes fail to start; runs start without the warm pool", file=sys.stderr)
        return None

    def _retire(self, zygote: _Zygote) -> None:
        if zygote.location is not None and self._zygotes.get(zygote.location) is zygote:
            del self._zygotes[zygote.location]
        if zygote.children and zygote.alive():
            self._retired.append(zygote)
        else:
            zygote.close()

    def _forget(self, zygote: _Zygote) -> None:
        """A zygote that died: its children run on, their exit codes are lost."""
        if zygote.location is not None and self._zygotes.get(zygote.location) is zygote:
            del self._zygotes[zygote.location]
        if zygote in self._retired:
            self._retired.remove(zygote)
        zygote.kill()

    def _tidy(self) -> None:
        """Collect the exit codes of retired zygotes' children; close those with none left."""
        for zygote in list(self._retired):
            try:
                if zygote.alive():
                    zygote.request({"op": "poll"}, _START_TIMEOUT_SECONDS)
            except _ZygoteGone:
                pass
            if not zygote.children or not zygote.alive():
                self._retired.remove(zygote)
                zygote.close()

    def _remember(self, run_id: str, zygote: _Zygote, pid: int) -> None:
        self._runs[run_id] = (zygote, pid)
        if len(self._runs) > _RUNS_KEPT:
            # The oldest ended runs are forgotten (wait() then returns None for them).
            for old_id, (old_zygote, _pid) in list(self._runs.items())[: len(self._runs) - _RUNS_KEPT]:
                if old_id in old_zygote.exits:
                    del self._runs[old_id]
                    del old_zygote.exits[old_id]

    def _wait_orphan(self, run_id: str, timeout: float | None) -> int | None:
        run = self._instance.get_run_by_id(run_id)
        worker = _run_worker(run.tags) if run is not None else None
        if worker is not None:
            import psutil

            with contextlib.suppress(psutil.Error):
                worker.wait(timeout)
        return None


def _same_env(a: dict[str, str], b: dict[str, str]) -> bool:
    if a == b:
        return True
    keys = (a.keys() | b.keys()) - _VOLATILE_VARIABLES
    return all(a.get(k) == b.get(k) for k in keys)


def _location_key(origin: dict[str, Any], cwd: str) -> str:
    """What identifies a code location: where its code is, not which job of it."""
    return json.dumps(
        [origin.get("module_name"), origin.get("python_file"), cwd, list(origin.get("extra_sys_path") or ())]
    )


# -- the zygote (this module run as `python -m oprun.execution.warm_pool`) --------


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


@contextlib.contextmanager
def _sigchld_blocked() -> Iterator[None]:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})


class _Server:
    """The zygote's loop: one request, one reply, until its stdin closes."""

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self._reader = os.fdopen(in_fd, "rb")
        self._out_fd = out_fd
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.children: set[int] = set()
        self.exits: dict[int, int] = {}  # not yet reported
        self.files: dict[str, tuple[int, int] | None] = {}  # what the location's import read
        self.loaded = False

    def serve(self) -> int:
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, self._reap)
        self._reply({"ready": True, "pid": os.getpid()})
        for line in self._reader:
            message = json.loads(line)
            op = message.get("op")
            if op == "launch":
                try:
                    reply = self._launch(message)
                except OSError as exc:  # cannot fork (no memory, too many processes): the launcher falls back
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                self._reply(reply)
            elif op == "wait":
                self._wait(int(message["pid"]), float(message.get("timeout") or 0))
                self._reply({"running": int(message["pid"]) in self.children})
            else:
                self._reply({})
        return 0  # the launcher closed the pipe: the children run on

    def _reap(self, _signum: int, _frame: Any) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exits[pid] = os.waitstatus_to_exitcode(status)
            self.children.discard(pid)

    def _wait(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while pid in self.children:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            select.select([self._wake_r], [], [], remaining)
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)

    def _reply(self, reply: dict[str, Any]) -> None:
        with _sigchld_blocked():
            exits, self.exits = self.exits, {}
        data = json.dumps({**reply, "exits": {str(k): v for k, v in exits.items()}}).encode() + b"\n"
        while data:
            data = data[os.write(self._out_fd, data):]

    def _launch(self, message: dict[str, Any]) -> dict[str, Any]:
        if any(_stat(path) != seen for path, seen in self.files.items()):
            return {"ok": False, "stale": True}
        if message.get("preload") and not self.loaded:
            self._load(message["origin"], message["cwd"])
        if _thread_count() > 1:
            return {"ok": False, "threads": True}
        for stream in (sys.stdout, sys.stderr):  # what the user's import printed stays the zygote's
            with contextlib.suppress(Exception):
                stream.flush()
        ready_r, ready_w = os.pipe()
        with _sigchld_blocked():
            pid = os.fork()
            if pid == 0:
                os.close(ready_r)
                _child(message, ready_w, (self._reader.fileno(), self._out_fd, self._wake_r, self._wake_w))
            self.children.add(pid)
        os.close(ready_w)
        # Replied once the child is the leader of its session: terminate() signals that group.
        readable, _, _ = select.select([ready_r], [], [], _CHILD_READY_SECONDS)
        if readable:
            with contextlib.suppress(OSError):
                os.read(ready_r, 1)
        os.close(ready_r)
        return {"ok": True, "pid": pid}

    def _load(self, origin: dict[str, Any], cwd: str) -> None:
        """Import the location's code as a fresh run worker in `cwd` would, and note
        the files it read. A failure is left to the child, which records it."""
        from oprun.execution.reconstruct import ReconstructableJob

        os.chdir(cwd)
        sys.path[0] = cwd  # `python -m` puts the working directory first
        before = set(sys.modules)
        pointer = ReconstructableJob.from_dict(origin)
        # The user's import may run subprocesses: their exit codes are theirs to collect.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            pointer.get_definition()
            self.loaded = True
        except BaseException as exc:  # noqa: BLE001 - user code: the child will fail the run with it
            print(f"oprun warm pool: cannot preload {pointer.describe()}: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            signal.signal(signal.SIGCHLD, self._reap)
            self._reap(signal.SIGCHLD, None)  # children that ended meanwhile
        self.note_files([origin.get("python_file"), *_module_files(set(sys.modules) - before)])

    def note_files(self, paths: list[Any]) -> None:
        for path in paths:
            if isinstance(path, str) and path not in self.files:
                self.files[path] = _stat(path)


def _module_files(names: set[str]) -> list[Any]:
    """The files of these modules, but the standard library's (which an install
    does not change, and which would only make each check longer)."""
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"] + os.sep
    files = []
    for name in names:
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str) and (not path.startswith(stdlib) or "-packages" + os.sep in path):
            files.append(path)
    return files


def _child(message: dict[str, Any], ready_w: int, zygote_fds: tuple[int, ...]) -> NoReturn:
    """A forked run worker: its own session and log, then the run worker's main."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        for fd in zygote_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        log = private_opener(message["log_path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.chdir(message["cwd"])
        if isinstance(message.get("env"), dict):
            os.environ.clear()
            os.environ.update(message["env"])
        os.write(ready_w, b"1")
        os.close(ready_w)
        from oprun.execution import run_worker

        sys.argv = [run_worker.__file__, message["run_id"]]  # as `python -m oprun.execution.run_worker RUN_ID`
        code = run_worker.main([message["run_id"]])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - whatever happens, this process must not return into the zygote
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _warm_up() -> None:
    """Import what a run worker imports, and open (then dispose of) the instance
    once so its storage's modules are loaded: no connection survives into a fork."""
    import oprun.definitions.resources.fs_io_manager
    import oprun.execution.compute_logs
    import oprun.execution.execute_job
    import oprun.execution.executors.in_process
    import oprun.execution.run_worker  # noqa: F401
    from oprun.errors import DagsterError
    from oprun.instance import DagsterInstance

    try:
        DagsterInstance.get().dispose()
    except DagsterError as exc:
        print(f"oprun warm pool: cannot open the instance yet: {exc}", file=sys.stderr)


def serve() -> int:
    # The protocol gets fds of its own; stdout becomes stderr so that what the
    # user's code prints while imported cannot break it.
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    _warm_up()
    server = _Server(in_fd, out_fd)
    # oprun itself (and what it imported) counts as the location's code: an
    # upgrade or an edit of oprun also means a fresh zygote.
    server.note_files(_module_files(set(sys.modules)))
    return server.serve()


if __name__ == "__main__":
    sys.exit(serve())
