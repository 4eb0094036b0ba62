"""Kinds of scenario, and how their samples become medians.

A scenario is measured by taking one *sample* per repeat on each side, each
sample in a fresh process. Two kinds exist:

- ``Script``: runs ``bench/scenarios/SCRIPT.py PACKAGE ARGS...``, which times
  its own work with ``perf_counter`` and prints one JSON line of metrics.
  Interpreter start-up stays out of the figure; only the part of interest is
  inside the timed region.
- ``Command``: times a whole command from outside (start-up, import, work and
  exit), after unmeasured warm-up runs, like ``hyperfine``. This is the kind
  for command-line tools (``oprun job list`` against ``dagster job list``).

The children's stderr goes to /dev/null, so log output costs the same (next to
nothing) on both sides. A sample is a dict in the scenario scripts' protocol:
``{"status": "ok" | "n/a" | "error", "metrics": {...}, ...}``.
"""

import json
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field

from .sides import BENCH

SCRIPTS = BENCH / "scenarios"


@dataclass(frozen=True)
class Metric:
    """One figure a scenario reports, and how to read it.

    ``unit`` is "time" (seconds), "bytes" or "list". ``per_op`` also shows a
    time divided by the sample's ``ops`` figure. ``sides`` names the sides the
    figure is meant for (a Dagster-only or oprun-only figure shows "–" on
    the other side).
    """

    key: str
    label: str
    unit: str = "time"
    targets: tuple = ()
    per_op: bool = False
    sides: tuple = ("oprun", "dagster")


@dataclass(frozen=True)
class Scenario:
    """What all kinds share: a name, the figures, and a cap on slow repeats.

    ``dagster_repeat_cap`` bounds the repeats on Dagster's side for scenarios
    where one Dagster sample takes minutes and the ratio does not hinge on its
    noise; ``repeat_cap`` bounds both sides' (a scenario whose every sample
    takes minutes).
    """

    name: str
    metrics: tuple
    description: str = ""
    dagster_repeat_cap: int | None = None
    repeat_cap: int | None = None  # the same bound for both sides (a sample that takes minutes)

    def repeats(self, side, repeat):
        if self.repeat_cap:
            repeat = min(repeat, self.repeat_cap)
        if side.name == "dagster" and self.dagster_repeat_cap:
            return min(repeat, self.dagster_repeat_cap)
        return repeat

    def prepare(self, side, timeout):
        """Work done once per side before the samples (none by default)."""

    def sample(self, side, timeout):
        raise NotImplementedError


@dataclass(frozen=True)
class Script(Scenario):
    """A script in ``bench/scenarios`` that measures itself."""

    script: str = ""
    args: tuple = ()

    def command(self, side):
        path = SCRIPTS / f"{self.script}.py"
        return [str(side.python), str(path), side.package, *map(str, self.args)]

    def sample(self, side, timeout):
        try:
            done = subprocess.run(
                self.command(side),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                cwd=side.home,
                env=side.env,
                timeout=timeout,
                text=True,
            )
        except subprocess.TimeoutExpired:
            return {"status": "error", "error": f"timed out after {timeout:g} s"}
        return _parse_result(done.stdout, done.returncode)


@dataclass(frozen=True)
class Command(Scenario):
    """A whole command timed from outside, with warm-up runs first.

    ``argv`` maps a side's name to the command as a list of templates; they
    may use ``{python}``, ``{bin}`` (the side's console-script directory),
    ``{package}`` and ``{bench}``. A side missing from ``argv`` reports n/a.
    The figure is ``wall_s``.
    """

    argv: dict = field(default_factory=dict)
    warmup: int = 1

    def command(self, side):
        values = {
            "python": side.python,
            "bin": side.bin_dir,
            "package": side.package,
            "bench": BENCH,
        }
        return [part.format(**values) for part in self.argv[side.name]]

    def prepare(self, side, timeout):
        if side.name in self.argv:
            for _ in range(self.warmup):
                self.sample(side, timeout)

    def sample(self, side, timeout):
        if side.name not in self.argv:
            return {"status": "n/a", "reason": f"no command given for {side.name}"}
        try:
            returncode, wall_s = _timed_run(self.command(side), side, timeout)
        except OSError as error:
            return {"status": "error", "error": f"cannot start the command: {error}"}
        if returncode is None:
            return {"status": "error", "error": f"timed out after {timeout:g} s"}
        if returncode != 0:
            return {"status": "error", "error": f"the command exited with {returncode}"}
        return {"status": "ok", "metrics": {"wall_s": wall_s}, "unavailable": {}}


def _timed_run(command, side, timeout):
    """Run ``command`` to its end; return (exit code or None on time-out, seconds).

    The wait blocks on the child instead of polling (as a wait with a timeout
    does), since polling would round the figure up by milliseconds; a timer
    kills the child on time-out instead.
    """
    timed_out = threading.Event()
    start = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        cwd=side.home,
        env=side.env,
    )

    def kill():
        timed_out.set()
        child.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        returncode = child.wait()
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - start
    return (None if timed_out.is_set() else returncode), elapsed


def _parse_result(stdout, returncode):
    lines = [line for line in stdout.splitlines() if line.strip()]
    if lines:
        try:
            record = json.loads(lines[-1])
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("status") in ("ok", "n/a", "error"):
            return record
    return {"status": "error", "error": f"exited with {returncode} without a result line"}


@dataclass
class SideResult:
    """The samples of one scenario on one side, summarised.

    Sampling stops at the first sample that is n/a or an error: the status and
    reason then describe the side, and no median is given.
    """

    status: str = "ok"
    reason: str = ""
    samples: list = field(default_factory=list)
    unavailable: dict = field(default_factory=dict)

    @property
    def finished(self):
        return self.status != "ok"

    def add(self, record):
        if record["status"] != "ok":
            self.status = record["status"]
            self.reason = record.get("reason") or record.get("error") or ""
            return
        self.samples.append(record.get("metrics", {}))
        self.unavailable.update(record.get("unavailable") or {})

    def medians(self):
        """The median of every numeric figure; the union of every list."""
        if self.status != "ok" or not self.samples:
            return {}
        keys = {key for sample in self.samples for key in sample}
        result = {}
        for key in sorted(keys):
            values = [sample[key] for sample in self.samples if key in sample]
            if all(isinstance(v, list) for v in values):
                result[key] = sorted({item for v in values for item in v})
            else:
                result[key] = statistics.median(values)
        return result

    def to_json(self):
        return {
            "status": self.status,
            "reason": self.reason,
            "medians": self.medians(),
            "samples": self.samples,
            "unavailable": self.unavailable,
        }
