"""The two sides of every comparison: an interpreter and the package it runs.

oprun runs on the caller's own interpreter (which must have oprun installed);
Dagster runs in a virtual environment of its own under ``bench/``, created on
first use and reused afterwards. Both get a private, empty home directory (also
their working directory) so that neither reads a user's instance configuration
nor leaves files behind.
"""

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
DAGSTER_VENV = BENCH / ".venv-dagster"
DAGSTER_REQUIREMENT = "dagster==1.13.*"
DAGSTER_SERIES = "1.13."
# The web server scenarios run Dagster's webserver and GraphQL packages. They are
# released in lockstep with dagster and each pins dagster's exact version, so
# the three are installed together and pip picks the newest version all three
# have (dagster itself may be a patch release ahead of them).
DAGSTER_WEB_DISTRIBUTIONS = ("dagster-webserver", "dagster-graphql")
DAGSTER_REQUIREMENTS = (DAGSTER_REQUIREMENT, *(f"{name}==1.13.*" for name in DAGSTER_WEB_DISTRIBUTIONS))

# Variables that would change what the children do, whatever side they are on:
# a warnings filter could turn Dagster's deprecation warnings into errors.
_DROPPED_VARIABLES = ("PYTHONWARNINGS",)


class SetupError(Exception):
    """A side could not be prepared; the message says what to do."""


@dataclass(frozen=True)
class Side:
    """One package under test and the interpreter that runs it."""

    name: str
    package: str
    python: Path
    version: str
    python_version: str
    home: Path
    env: dict = field(repr=False)

    @property
    def bin_dir(self):
        """The directory of the side's console scripts (``oprun``, ``dagster``)."""
        return self.python.parent


def oprun_side(home):
    """The caller's interpreter, with bytecode compiled for oprun's sources.

    The environment may forbid writing bytecode, which would make every fresh
    process recompile oprun while Dagster's installed files already have
    theirs; compiling once puts both on the same footing.
    """
    python = Path(sys.executable)
    source = _query(python, _FIND_PACKAGE_DIR.format(package="oprun"))
    if not source:
        raise SetupError(f"oprun is not installed for {python}; run: pip install -e .")
    _check(python, ["-m", "compileall", "-q", source], "compiling oprun's bytecode")
    version = _query(python, _VERSION.format(distribution="oprun")) or "unknown"
    env = _child_env(OPRUN_HOME=str(home))
    return Side("oprun", "oprun", python, version, _query(python, _PYTHON_VERSION), home, env)


def dagster_side(home):
    """Dagster in ``bench/.venv-dagster``, installed from the package index."""
    python = DAGSTER_VENV / "bin" / "python"
    version = _query(python, _VERSION.format(distribution="dagster")) if python.exists() else ""
    if not version.startswith(DAGSTER_SERIES):
        _install_dagster(python)
        version = _query(python, _VERSION.format(distribution="dagster"))
    if not version.startswith(DAGSTER_SERIES):
        raise SetupError(f"{DAGSTER_VENV} has dagster {version!r}, expected {DAGSTER_REQUIREMENT}")
    if _missing_web(python, version):  # a venv made before the web scenarios existed
        _install_dagster(python)
        version = _query(python, _VERSION.format(distribution="dagster"))
        if _missing_web(python, version):
            raise SetupError(f"{DAGSTER_VENV}: {', '.join(_missing_web(python, version))} not at dagster's version {version}")
    env = _child_env(DAGSTER_HOME=str(home))
    return Side("dagster", "dagster", python, version, _query(python, _PYTHON_VERSION), home, env)


def _install_dagster(python):
    print(f"installing {' '.join(DAGSTER_REQUIREMENTS)} into {DAGSTER_VENV} (once; takes a few minutes)",
          file=sys.stderr, flush=True)
    if not python.exists():
        _check(Path(sys.executable), ["-m", "venv", str(DAGSTER_VENV)], "creating the Dagster venv")
    _check(python, ["-m", "pip", "install", "--quiet", *DAGSTER_REQUIREMENTS], "installing Dagster")


def _missing_web(python, version):
    """The web distributions not installed at dagster's own version."""
    return [name for name in DAGSTER_WEB_DISTRIBUTIONS if _query(python, _VERSION.format(distribution=name)) != version]


def _child_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
    env.update(extra)
    return env


_FIND_PACKAGE_DIR = (
    "import importlib.util as u; s = u.find_spec({package!r}); "
    "print(list(s.submodule_search_locations)[0] if s and s.submodule_search_locations else '')"
)
_PYTHON_VERSION = "import platform; print(platform.python_version())"
_VERSION = (
    "import importlib.metadata as m\n"
    "try: print(m.version({distribution!r}))\n"
    "except m.PackageNotFoundError: print('')"
)


def _query(python, code):
    """Run ``code`` in ``python`` and return its stripped output ('' on failure)."""
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def _check(python, args, doing):
    done = subprocess.run([str(python), *args], capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise SetupError(f"{doing} failed (exit {done.returncode}):\n{tail}")
