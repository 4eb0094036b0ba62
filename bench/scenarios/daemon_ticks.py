"""The daemon under load and at rest: N schedules and N sensors in one code
location, evaluated by one daemon process (`oprun daemon run` /
`dagster-daemon run`) on a SQLite instance in a fresh home.

Under load (every schedule fires every minute, every sensor has Dagster's
default 30 s minimum interval and returns a SkipReason), over a window that
spans one minute boundary:

- `schedule_burst_s`: from the minute boundary until all N schedule ticks of
  that minute are stored (`schedule_ticks_per_s` is N divided by it);
  `schedule_ticks_in_window`: how many of them were stored within the window
  (45 s after the boundary);
- `sensor_ticks_per_s`: sensor ticks stored per second after the first round,
  against the N / 30 per second the definitions ask for (`sensor_demand_per_s`);
- `daemon_cpu_percent`: the daemon's CPU time (its whole process tree) over the
  window, as a percentage of one core;
- `daemon_rss_bytes`: the daemon tree's resident memory at the end.

At rest (the same N schedules and N sensors, running, with nothing due: yearly
schedules, sensors at a one-hour interval), after their first round:

- `idle_cpu_percent`: the daemon tree's CPU over 20 s, % of one core.

Both packages' ticks are counted straight from their SQLite files (`job_ticks`),
read-only, every 0.2 s.

Usage: ``daemon_ticks.py PACKAGE [N=1000]``.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from _common import check, int_arg, package_name, run

PKG = package_name()
N = int_arg(1, 1000)
SENSOR_INTERVAL = 30
WINDOW_AFTER_BOUNDARY_S = 45.0
IDLE_WARMUP_S = 20.0
IDLE_WINDOW_S = 20.0

DEFINITIONS = '''
from {pkg} import Definitions, SkipReason, job, op, schedule, sensor
from {pkg} import DefaultScheduleStatus, DefaultSensorStatus


@op
def noop():
    return 1


@job
def target():
    noop()


def _schedule(i):
    @schedule(name=f"every_minute_{{i}}", cron_schedule="{cron}", job=target, default_status=DefaultScheduleStatus.RUNNING)
    def every_minute(context):
        return SkipReason("nothing to do")

    return every_minute


def _sensor(i):
    @sensor(name=f"watch_{{i}}", job=target, minimum_interval_seconds={interval}, default_status=DefaultSensorStatus.RUNNING)
    def watch(context):
        return SkipReason("nothing new")

    return watch


defs = Definitions(jobs=[target], schedules=[_schedule(i) for i in range({n})], sensors=[_sensor(i) for i in range({n})])
'''


def _daemon_command(defs_file):
    if PKG == "oprun":
        return [sys.executable, "-m", "oprun", "daemon", "run", "-f", defs_file]
    return [os.path.join(os.path.dirname(sys.executable), "dagster-daemon"), "run", "-f", defs_file]


def _tick_db(home):
    if PKG == "oprun":
        return os.path.join(home, "history", "oprun.db")
    return os.path.join(home, "schedules", "schedules.db")


def _count_ticks(home):
    """(schedule ticks, sensor ticks) stored so far; (0, 0) before the tables exist."""
    path = _tick_db(home)
    if not os.path.exists(path):
        return 0, 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            if PKG == "oprun":
                rows = conn.execute(
                    "SELECT i.instigator_type, count(*) FROM job_ticks t JOIN instigators i ON t.instigator_id = i.id GROUP BY i.instigator_type"
                ).fetchall()
            else:
                rows = conn.execute("SELECT type, count(*) FROM job_ticks GROUP BY type").fetchall()
    except sqlite3.Error:
        return 0, 0
    counts = dict(rows)
    return counts.get("SCHEDULE", 0), counts.get("SENSOR", 0)


def _stat(pid):
    """(ppid, cpu seconds) of a process from /proc (no psutil: the Dagster side's
    environment has only what Dagster installs)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def _tree(pid):
    """`pid` and its descendants (a daemon's code servers and zygotes)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = _stat(entry)[0]
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found.extend(children)
        frontier = children
    return found


class _CpuMeter:
    """CPU seconds used by a process tree since the meter started, sampled with
    `sample()`: a member that ends (a code server restarted) keeps what it used
    until its last sample, and a new member counts from when it started."""

    def __init__(self, pid):
        self.pid = pid
        self.start = {}
        self.last = {}
        self.sample(first=True)

    def sample(self, first=False):
        for member in _tree(self.pid):
            try:
                used = _stat(member)[1]
            except (OSError, IndexError, ValueError):  # ended just now
                continue
            if member not in self.start:
                self.start[member] = used if first else 0.0
            self.last[member] = used

    def seconds(self):
        self.sample()
        return sum(self.last[member] - self.start[member] for member in self.last)


def _rss(pid):
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for member in _tree(pid):
        try:
            with open(f"/proc/{member}/statm") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
    return total


def scenario(_name):
    with tempfile.TemporaryDirectory() as home:
        defs_file = os.path.join(home, "daemon_defs.py")
        with open(defs_file, "w") as f:
            f.write(DEFINITIONS.format(pkg=PKG, n=N, interval=SENSOR_INTERVAL, cron="* * * * *"))
        env = {**os.environ, "OPRUN_HOME": home, "DAGSTER_HOME": home}
        # Start soon after a minute boundary, so that the first round of sensors
        # and the code's loading are over before the next boundary.
        wait = (60 - time.time() % 60 + 2) % 60
        time.sleep(wait)
        daemon = subprocess.Popen(_daemon_command(defs_file), env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            started = time.time()
            boundary = (int(started // 60) + 1) * 60.0
            cpu = _CpuMeter(daemon.pid)
            burst_s = None
            schedules_at_boundary = None
            sensor_samples = []
            in_window = 0
            end = boundary + WINDOW_AFTER_BOUNDARY_S
            while time.time() < end:
                check(daemon.poll() is None, f"the daemon exited with {daemon.returncode}")
                now = time.time()
                schedule_ticks, sensor_ticks = _count_ticks(home)
                if now >= boundary and schedules_at_boundary is None:
                    schedules_at_boundary = schedule_ticks
                if schedules_at_boundary is not None and burst_s is None and schedule_ticks - schedules_at_boundary >= N:
                    burst_s = now - boundary
                sensor_samples.append((now, sensor_ticks))
                cpu.sample()
                if schedules_at_boundary is not None:
                    in_window = schedule_ticks - schedules_at_boundary
                time.sleep(0.2)
            cpu_used = cpu.seconds()
            rss = _rss(daemon.pid)
            elapsed = time.time() - started
        finally:
            _stop(daemon)
    # Sensor throughput after the first round (which includes loading the code).
    later = [(t, c) for t, c in sensor_samples if t >= started + SENSOR_INTERVAL]
    sensor_rate = (later[-1][1] - later[0][1]) / (later[-1][0] - later[0][0]) if len(later) > 1 and later[-1][0] > later[0][0] else 0.0
    metrics = {
        "sensor_ticks_per_s": sensor_rate,
        "sensor_demand_per_s": N / SENSOR_INTERVAL,
        "daemon_cpu_percent": 100.0 * cpu_used / elapsed,
        "daemon_rss_bytes": rss,
        "schedule_ticks_in_window": in_window,
    }
    unavailable = {}
    if burst_s is not None:
        metrics["schedule_burst_s"] = burst_s
        metrics["schedule_ticks_per_s"] = N / burst_s if burst_s > 0 else float(N)
    else:
        unavailable["schedule_burst_s"] = f"not all {N} schedule ticks of the minute were stored within {WINDOW_AFTER_BOUNDARY_S:.0f} s"
    metrics["idle_cpu_percent"] = _idle_cpu_percent()
    return metrics, unavailable


def _idle_cpu_percent():
    """The daemon's CPU with the same N schedules and N sensors running and
    nothing due, after their first round."""
    with tempfile.TemporaryDirectory() as home:
        defs_file = os.path.join(home, "daemon_defs.py")
        with open(defs_file, "w") as f:
            f.write(DEFINITIONS.format(pkg=PKG, n=N, interval=3600, cron="0 0 1 1 *"))
        env = {**os.environ, "OPRUN_HOME": home, "DAGSTER_HOME": home}
        daemon = subprocess.Popen(_daemon_command(defs_file), env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # The sensors' first round, done once at start (a daemon that has not
            # finished it in two minutes is measured all the same).
            deadline = time.time() + 120
            while _count_ticks(home)[1] < N and time.time() < deadline:
                check(daemon.poll() is None, f"the idle daemon exited with {daemon.returncode}")
                time.sleep(0.2)
            time.sleep(IDLE_WARMUP_S)
            meter, start = _CpuMeter(daemon.pid), time.time()
            while time.time() < start + IDLE_WINDOW_S:
                time.sleep(0.5)
                meter.sample()
            return 100.0 * meter.seconds() / (time.time() - start)
        finally:
            _stop(daemon)


def _stop(daemon):
    for member in _tree(daemon.pid)[1:]:
        try:
            os.kill(member, signal.SIGKILL)
        except OSError:
            pass
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


if __name__ == "__main__":
    run(scenario, import_first=False)  # the daemon process imports the package, not this one
