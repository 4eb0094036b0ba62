"""What every scenario script shares: choosing the package, timing, reporting.

A scenario script is run as ``python bench/scenarios/NAME.py PACKAGE [ARGS...]``
where PACKAGE is ``oprun`` or ``dagster``. The script's code is written once
against Dagster's documented op-job API and asks this module for the names it
uses, so the very same lines run on both packages.

The script ends by printing exactly one JSON line on stdout, one of::

    {"status": "ok", "metrics": {...}, "unavailable": {...}}
    {"status": "n/a", "reason": "..."}      # the package lacks a name or module
    {"status": "error", "error": "..."}     # anything else went wrong

Metrics are plain numbers (seconds, bytes) or lists; the runner formats them.
This module imports only what the interpreter has already loaded at start-up,
so that it costs nothing inside a measured region (``json`` and ``traceback``
are imported only when the result is printed).
"""

import sys
import time

clock = time.perf_counter


class Unavailable(Exception):
    """The package under test does not provide a name the scenario needs."""


def package_name():
    """The package to benchmark, from the first command-line argument."""
    if len(sys.argv) < 2:
        raise SystemExit("usage: python SCENARIO.py PACKAGE [ARGS...]")
    return sys.argv[1]


def int_arg(position, default):
    """An integer positional argument after the package name, or ``default``."""
    index = position + 1
    return int(sys.argv[index]) if len(sys.argv) > index else default


def require(pkg, *names):
    """Return ``pkg.NAME`` for each name, or raise ``Unavailable``.

    Missing names mean "not implemented yet", which the runner reports as
    n/a rather than as a failure.
    """
    values = []
    for name in names:
        try:
            values.append(getattr(pkg, name))
        except AttributeError:
            raise Unavailable(f"{pkg.__name__} has no {name!r}") from None
        except ImportError as error:  # a lazily loaded name whose module is missing
            raise Unavailable(f"{pkg.__name__}.{name} cannot be imported: {error}") from None
    return values[0] if len(values) == 1 else tuple(values)


def load_package(name):
    """Import the package under test; an import failure means n/a."""
    try:
        __import__(name)
        return sys.modules[name]
    except ImportError as error:
        raise Unavailable(f"cannot import {name}: {error}") from None


def chain_job(pkg, n):
    """A job of ``n`` distinct ops in a line, made by a factory.

    The first op produces 1 and each later op adds one to its input, so the
    last op, ``add_{n-1}``, outputs ``n``.
    """
    op, job = require(pkg, "op", "job")

    def make_op(i):
        if i == 0:

            @op(name="add_0")
            def first():
                return 1

            return first

        @op(name=f"add_{i}")
        def add(x):
            return x + 1

        return add

    ops = [make_op(i) for i in range(n)]

    @job(name=f"chain_{n}")
    def chain():
        value = ops[0]()
        for next_op in ops[1:]:
            value = next_op(value)

    return chain


def check(condition, message):
    """Fail the scenario (as an error, not n/a) when a result is wrong."""
    if not condition:
        raise AssertionError(message)


def run(scenario, import_first=True):
    """Run the scenario and print its result as one JSON line.

    The scenario is called with the imported package, or with the package's
    name when ``import_first`` is false (for a scenario that times the import
    itself). It returns a dict of metrics, or a pair of dicts
    ``(metrics, unavailable)`` where ``unavailable`` maps the metrics the
    package cannot provide yet to the reason.
    """
    try:
        name = package_name()
        outcome = scenario(load_package(name) if import_first else name)
    except Unavailable as reason:
        _emit({"status": "n/a", "reason": str(reason)})
        return
    except ImportError as error:  # a part of the package that is not written yet
        _emit({"status": "n/a", "reason": _describe(error)})
        return
    except BaseException as error:  # any failure must still produce one line
        _emit({"status": "error", "error": _describe(error)})
        sys.exit(1)
    metrics, unavailable = outcome if isinstance(outcome, tuple) else (outcome, {})
    _emit({"status": "ok", "metrics": metrics, "unavailable": unavailable})


def _describe(error):
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}"[:500] + where


def _emit(record):
    import json

    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
