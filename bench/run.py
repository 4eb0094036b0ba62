"""Run the benchmark scenarios on oprun and on Dagster, side by side.

Usage::

    python bench/run.py [--quick] [--only NAME ...] [--repeat N]

Run it with the project's interpreter (the one with oprun installed): oprun is
measured on that interpreter, Dagster in ``bench/.venv-dagster``, which is
created on first use. Each scenario runs in fresh processes, alternating the
two sides, N times each (5 by default, 2 with ``--quick``). The medians go to
stdout as a markdown table, ready to paste into an issue note, and to
``bench/results/latest.json`` with every sample.

To add a scenario, write ``bench/scenarios/NAME.py`` (see ``_common.py`` for
the protocol) or, for a command timed from outside, a ``Command`` entry; then
add it to ``SCENARIOS`` below with its targets.
"""

import argparse
import datetime
import difflib
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.report import markdown, write_json
from harness.scenarios import Command, Metric, Script, SideResult
from harness.sides import BENCH, SetupError, dagster_side, oprun_side
from harness.targets import AtLeast, AtMost, Faster, NoneOf

RESULTS = BENCH / "results" / "latest.json"
TIMEOUT_S = 900.0


def _execute(targets=(), label="execute"):
    return Metric("execute_s", label, per_op=True, targets=targets)


# The scenarios, in the order they run, with the targets set in the issues.
SCENARIOS = (
    Script(
        "import",
        description="`import PACKAGE` in a fresh process, and heavy modules it loads",
        script="import",
        metrics=(
            Metric("import_s", "import time", targets=(AtMost(0.030, "≤ 30 ms"),)),
            Metric(
                "heavy_modules",
                "heavy modules loaded",
                unit="list",
                targets=(NoneOf(("sqlalchemy", "click", "rich", "starlette", "dask")),),
            ),
        ),
    ),
    Command(
        "import_wall",
        description="wall time of `python -c 'import PACKAGE'`, timed from outside",
        argv={side: ["{python}", "-c", "import {package}"] for side in ("oprun", "dagster")},
        metrics=(Metric("wall_s", "process wall time"),),
    ),
    Script(
        "define_chain_1000",
        description="define a job chaining 1000 distinct factory-made ops",
        script="define_chain",
        args=(1000,),
        metrics=(Metric("define_s", "define", targets=(Faster(10),)),),
    ),
    Script(
        "execute_chain_1",
        description="execute_in_process() of a 1-op job",
        script="execute_chain",
        args=(1,),
        metrics=(_execute(),),
    ),
    Script(
        "execute_chain_100",
        description="execute_in_process() of a 100-op chain",
        script="execute_chain",
        args=(100,),
        metrics=(_execute(),),
    ),
    Script(
        "execute_chain_1000",
        description="execute_in_process() of a 1000-op chain",
        script="execute_chain",
        args=(1000,),
        metrics=(_execute((Faster(100), AtMost(60e-6, "≤ 60 µs/op", per_op=True))),),
    ),
    Script(
        "wide_1000",
        description="execute a 1 -> 1000 -> 1 job with a 1000-way fan-in",
        script="wide",
        args=(1000,),
        metrics=(_execute((Faster(100),)),),
    ),
    Script(
        "dynamic_map_100",
        description="100 DynamicOutputs, .map(double), .collect() into a sum",
        script="dynamic_map",
        args=(100,),
        metrics=(_execute(),),
    ),
    Script(
        "dynamic_map_10000",
        description="10,000 DynamicOutputs, .map(double), .collect() into a sum",
        script="dynamic_map",
        args=(10_000,),
        metrics=(_execute((AtMost(1.0, "≤ 1 s"),)),),
        dagster_repeat_cap=2,  # about 1.5 minutes per Dagster run
    ),
    Script(
        "peak_rss_chain_1000",
        description="peak RSS of a process defining and executing a 1000-op chain",
        script="peak_rss_chain",
        args=(1000,),
        metrics=(
            Metric("peak_rss_bytes", "peak RSS", unit="bytes", targets=(AtMost(45e6, "≤ 45 MB"),)),
        ),
    ),
    Script(
        "config_50_fields",
        description="a 50-field Config class validated and run in process",
        script="config_50_fields",
        metrics=(
            Metric("execute_s", "validate + run", targets=(Faster(20),)),
            Metric("validate_s", "validate_run_config", targets=(AtMost(1e-3, "≤ 1 ms"),)),
        ),
    ),
    Script(
        "event_writes",
        description="events written to the SQLite instance: one call each, and (oprun) in batches of 20",
        script="event_writes",
        args=(2000,),
        metrics=(
            Metric("events_per_s_single", "events/s, one per call", unit="rate"),
            Metric("events_per_s_batched", "events/s, batches of 20", unit="rate", targets=(AtLeast(20_000, "≥ 20,000/s"),), sides=("oprun",)),
        ),
        dagster_repeat_cap=2,
    ),
    Script(
        "persistent_chain_100",
        description="execute_job of a 100-op chain on SQLite with the fs IO manager, in process",
        script="persistent_chain",
        args=(100,),
        metrics=(
            Metric("execute_s", "execute_job", targets=(Faster(15),)),
            Metric("fs_floor_s", "the disk's floor (plain loop, same outputs)", sides=("oprun",)),
        ),
    ),
    Script(
        "persistent_chain_10000",
        description="execute_job of a 10,000-op chain on SQLite with the fs IO manager, in process",
        script="persistent_chain",
        args=(10_000,),
        metrics=(
            Metric("execute_s", "execute_job", per_op=True, targets=(AtMost(3.0, "≤ 3 s"),)),
            Metric("peak_rss_bytes", "peak RSS", unit="bytes", targets=(AtMost(100e6, "≤ 100 MB"),)),
            Metric("fs_floor_s", "the disk's floor (plain loop, same outputs)", sides=("oprun",)),
        ),
        dagster_repeat_cap=1,  # minutes per Dagster run
    ),
    Script(
        "get_runs_tag_filter",
        description="get_runs with a tag filter over 10,000 stored runs (SQLite)",
        script="get_runs_tags",
        args=(10_000,),
        metrics=(Metric("query_s", "get_runs", targets=(AtMost(0.050, "≤ 50 ms"),)),),
        dagster_repeat_cap=1,
    ),
    Script(
        "multiprocess_8x0.5s",
        description="8 independent 0.5 s ops, multiprocess executor, max_concurrent 4 (ideal 1.0 s)",
        script="multiprocess_sleepers",
        metrics=(Metric("wall_s", "wall time", targets=(AtMost(1.3, "≤ 1.3 s"),)),),
    ),
    Script(
        "dequeue_latency",
        description="launch_run to the first STEP_START of a 1-op run: oprun's warm pool and default launcher, Dagster's default launch",
        script="dequeue_latency",
        metrics=(
            Metric("warm_s", "warm pool", targets=(AtMost(0.100, "≤ 100 ms"),), sides=("oprun",)),
            Metric("default_s", "default launcher"),
        ),
        dagster_repeat_cap=2,
    ),
    Script(
        "daemon_1000_schedules_1000_sensors",
        description="one daemon process, 1,000 every-minute schedules and 1,000 sensors at 30 s, SQLite (one minute boundary)",
        script="daemon_ticks",
        args=(1000,),
        metrics=(
            Metric("schedule_burst_s", "a minute's 1,000 schedule ticks stored in", targets=(AtMost(60.0, "≤ 60 s (keeps up)"),)),
            Metric("schedule_ticks_in_window", "of them stored within 45 s", unit="count"),
            Metric("schedule_ticks_per_s", "schedule ticks per second", unit="rate"),
            Metric("sensor_ticks_per_s", "sensor ticks per second", unit="rate"),
            Metric("sensor_demand_per_s", "sensor ticks per second asked for", unit="rate"),
            Metric("idle_cpu_percent", "CPU with nothing due (% of a core)", unit="percent", targets=(AtMost(5.0, "≤ 5 %"),)),
            Metric("daemon_cpu_percent", "CPU over the window (% of a core)", unit="percent"),
            Metric("daemon_rss_bytes", "daemon RSS", unit="bytes"),
        ),
        repeat_cap=1,
        dagster_repeat_cap=1,  # a minute and a half per sample
    ),
    Command(
        "cli_job_list",
        description="`job list -f FILE` from the command line, wall time",
        argv={
            "oprun": ["{bin}/oprun", "job", "list", "-f", "{bench}/scenarios/cli_job_oprun.py"],
            "dagster": ["{bin}/dagster", "job", "list", "-f", "{bench}/scenarios/cli_job_dagster.py"],
        },
        metrics=(Metric("wall_s", "wall time", targets=(AtMost(0.3, "≤ 0.3 s"),)),),
    ),
    Command(
        "cli_job_execute",
        description="`job execute -f FILE` of a one-op job from the command line, wall time",
        argv={
            "oprun": ["{bin}/oprun", "job", "execute", "-f", "{bench}/scenarios/cli_job_oprun.py", "-j", "single"],
            "dagster": ["{bin}/dagster", "job", "execute", "-f", "{bench}/scenarios/cli_job_dagster.py", "-j", "single"],
        },
        metrics=(Metric("wall_s", "wall time", targets=(AtMost(0.6, "≤ 0.6 s"),)),),
    ),
    # The web server, side by side with dagster-webserver (scenarios/web_*.py run the servers).
    Script(
        "web_start",
        description="`oprun webserver -f FILE` / `dagster-webserver -f FILE`: process start to the first answered repositories query (median of 3 starts)",
        script="web_start",
        args=(3,),
        metrics=(
            Metric("first_answer_s", "start to first answer", targets=(AtMost(1.0, "≤ 1 s"),)),
            Metric("first_answer_max_s", "slowest of the 3 starts"),
        ),
        dagster_repeat_cap=2,
    ),
    Script(
        "web_submit",
        description="the GraphQL client's launchPipelineExecution to the run QUEUED (queued coordinator, no daemon), median of 30",
        script="web_submit",
        args=(30,),
        metrics=(
            Metric("submit_s", "submit to QUEUED", targets=(AtMost(0.020, "≤ 20 ms"),)),
            Metric("submit_p90_s", "90th percentile"),
        ),
        dagster_repeat_cap=2,
    ),
    Script(
        "web_runs_page_100000",
        description="runsOrError(filter: {tags}, limit: 25) over 100,000 stored runs (SQLite), median of 10",
        script="web_runs_page",
        args=(100_000,),
        metrics=(Metric("page_s", "runs page", targets=(AtMost(0.050, "≤ 50 ms"),)),),
        dagster_repeat_cap=2,
    ),
    Script(
        "web_event_stream_10000",
        description="a finished 10,000-op run's 30,002 events streamed: pipelineRunLogs over a websocket; oprun also over SSE",
        script="web_event_stream",
        args=(10_000,),
        metrics=(
            Metric("transport", "transport", unit="list"),
            Metric("stream_s", "every event delivered in"),
            Metric("events_missing", "events missing", unit="count", targets=(AtMost(0, "0 (all delivered)"),)),
            Metric("rss_growth_bytes", "server RSS growth while streaming", unit="bytes", targets=(AtMost(20e6, "≤ 20 MB (flat)"),)),
            Metric("sse_stream_s", "server-sent events: delivered in", sides=("oprun",)),
            Metric("sse_events_missing", "server-sent events: missing", unit="count", sides=("oprun",), targets=(AtMost(0, "0"),)),
            Metric("sse_rss_growth_bytes", "server-sent events: RSS growth", unit="bytes", sides=("oprun",)),
        ),
        dagster_repeat_cap=2,
    ),
)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Benchmark oprun against Dagster; prints a markdown table.",
    )
    parser.add_argument("--quick", action="store_true", help="2 repeats instead of 5")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scenarios")
    parser.add_argument("--repeat", type=int, metavar="N", help="fresh processes per side")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    known = [scenario.name for scenario in SCENARIOS]
    for name in args.only or ():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
            parser.error(f"unknown scenario {name!r}{hint}")
    return args


def measure(scenario, sides, repeat):
    """Sample ``scenario`` on every side, alternating sides between repeats."""
    results = {side.name: SideResult() for side in sides}
    for side in sides:
        scenario.prepare(side, TIMEOUT_S)
    for index in range(repeat):
        for side in sides:
            result = results[side.name]
            if result.finished or index >= scenario.repeats(side, repeat):
                continue
            _progress(f"{scenario.name}: {side.name} {index + 1}/{scenario.repeats(side, repeat)}")
            result.add(scenario.sample(side, TIMEOUT_S))
    return results


def machine_info(sides, repeat):
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": {side.name: side.python_version for side in sides},
        "versions": {side.name: side.version for side in sides},
        "commit": _git_commit(),
        "repeat": repeat,
    }


def header(info):
    python = " / ".join(f"{v} ({k})" for k, v in info["python"].items())
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return (
        f"{info['date']} · {info['cpus']} CPUs · Python {python} · {versions} · "
        f"commit {info['commit']} · {info['repeat']} repeats, medians"
    )


def _git_commit():
    done = subprocess.run(
        ["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        for scenario in SCENARIOS:
            print(f"{scenario.name:22} {scenario.description}")
        return 0
    repeat = args.repeat or (2 if args.quick else 5)
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    with tempfile.TemporaryDirectory(prefix="oprun-bench-") as scratch:
        homes = [Path(scratch, name) for name in ("oprun", "dagster")]
        for home in homes:
            home.mkdir()
        try:
            sides = [oprun_side(homes[0]), dagster_side(homes[1])]
        except SetupError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 1
        info = machine_info(sides, repeat)
        print(f"{info['cpus']} CPUs, Python {sys.version.split()[0]}", file=sys.stderr)
        results = [(scenario, measure(scenario, sides, repeat)) for scenario in chosen]
    print(markdown(header(info), results))
    write_json(RESULTS, info, results)
    print(f"\nresults written to {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
