"""Reconstructable jobs: a pointer (module or file, attribute, working directory)
from which another process can load the same job.

`reconstructable(job)` finds where a job is defined; worker processes and run
workers call `ReconstructableJob.get_definition()` to load it again.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from oprun.errors import DagsterInvariantViolationError


@dataclass(frozen=True)
class ReconstructableJob:
    """Where a job lives. `attribute` names a job, a graph, or a Definitions /
    repository object (then `job_name` picks the job in it)."""

    attribute: str
    module_name: str | None = None
    python_file: str | None = None
    working_directory: str | None = None
    job_name: str | None = None
    op_selection: Sequence[str] | None = None
    extra_sys_path: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["op_selection"] = list(self.op_selection) if self.op_selection else None
        data["extra_sys_path"] = list(self.extra_sys_path)
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ReconstructableJob:
        data = dict(data)
        data["extra_sys_path"] = tuple(data.get("extra_sys_path") or ())
        return ReconstructableJob(**data)

    def with_op_selection(self, op_selection: Sequence[str] | None) -> ReconstructableJob:
        return replace(self, op_selection=list(op_selection) if op_selection else None)

    def get_subset(self, op_selection: Sequence[str] | None = None) -> ReconstructableJob:
        return self.with_op_selection(op_selection)

    def get_definition(self) -> Any:
        """Load the job (in this or another process)."""
        target = _load_attribute(self)
        job = _job_from(target, self.job_name, self)
        if self.op_selection:
            job = job.get_subset(op_selection=list(self.op_selection))
        return job

    @property
    def job_def(self) -> Any:
        return self.get_definition()

    def describe(self) -> str:
        where = self.python_file or self.module_name
        return f"{where}:{self.attribute}" + (f" (job {self.job_name})" if self.job_name else "")


def _prepare_path(pointer: ReconstructableJob) -> None:
    for path in (*pointer.extra_sys_path, pointer.working_directory):
        if path and path not in sys.path:
            sys.path.insert(0, path)


def _load_attribute(pointer: ReconstructableJob) -> Any:
    _prepare_path(pointer)
    from oprun import compat

    compat.install()  # user code may import `dagster`; a no-op when the real one is installed
    if pointer.module_name:
        module = importlib.import_module(pointer.module_name)
    elif pointer.python_file:
        module = load_python_file(pointer.python_file, pointer.working_directory)
    else:
        raise DagsterInvariantViolationError("A job pointer needs a module name or a python file.")
    if pointer.attribute == "*":
        # No attribute given (a code location found by the loader): find the job by name.
        return _find_job_in_module(module, pointer)
    try:
        return getattr(module, pointer.attribute)
    except AttributeError:
        from oprun.errors import did_you_mean

        raise DagsterInvariantViolationError(
            f"{pointer.module_name or pointer.python_file} has no attribute '{pointer.attribute}'."
            f"{did_you_mean(pointer.attribute, [n for n in dir(module) if not n.startswith('_')])}"
        ) from None


def _find_job_in_module(module: Any, pointer: ReconstructableJob) -> Any:
    wanted = pointer.job_name
    # Definitions first: their jobs carry the top-level resources, executor and loggers.
    for value in vars(module).values():
        has_job = getattr(value, "has_job", None)
        if callable(has_job) and not isinstance(value, type) and has_job(wanted):
            return value
    for value in vars(module).values():
        if getattr(value, "node_type", None) == "graph" and value.name == wanted:
            return value
        if hasattr(value, "execute_in_process") and hasattr(value, "graph") and value.name == wanted:
            return value
    raise DagsterInvariantViolationError(f"{pointer.python_file or pointer.module_name} has no job named '{wanted}'.")


def load_python_file(python_file: str, working_directory: str | None = None) -> Any:
    """Import a file as a module named after it (once per process)."""
    path = os.path.abspath(python_file)
    directory = working_directory or os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = os.path.splitext(os.path.basename(path))[0]
    existing = sys.modules.get(name)
    if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") == path:
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DagsterInvariantViolationError(f"Cannot load {python_file}: not a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _job_from(target: Any, job_name: str | None, pointer: ReconstructableJob) -> Any:
    kind = getattr(target, "node_type", None)
    if kind == "graph":
        return target.to_job()
    if hasattr(target, "execute_in_process") and hasattr(target, "graph"):
        return target
    get_job = getattr(target, "get_job_def", None)
    if callable(get_job):
        if job_name is None:
            raise DagsterInvariantViolationError(f"{pointer.describe()} holds several jobs: name one with job_name.")
        return get_job(job_name)
    if callable(target):
        return _job_from(target(), job_name, pointer)
    raise DagsterInvariantViolationError(f"{pointer.describe()} is not a job, a graph or a Definitions object.")


def reconstructable(target: Any) -> ReconstructableJob:
    """A pointer to a module-level job (or to a module-level function returning
    one, as Dagster also accepts), so other processes can load it."""
    if isinstance(target, ReconstructableJob):
        return target
    if callable(target) and not hasattr(target, "execute_in_process") and getattr(target, "__qualname__", None):
        if "<locals>" in target.__qualname__ or "." in target.__qualname__:
            raise DagsterInvariantViolationError(
                f"reconstructable() needs a function defined at module level; {target.__qualname__} is not."
            )
        module = sys.modules.get(target.__module__)
        if module is None:
            raise DagsterInvariantViolationError(f"Module {target.__module__} of {target.__qualname__} is not loaded.")
        return _pointer_for(target.__module__, module, target.__name__)
    if not (hasattr(target, "execute_in_process") and hasattr(target, "graph")):
        raise DagsterInvariantViolationError(
            f"reconstructable() takes a job defined at module level, got {target!r}."
        )
    for module_name, module in list(sys.modules.items()):
        if module is None or (module_name.startswith(("oprun", "_")) and module_name != "__main__"):
            continue
        try:
            members = vars(module)
        except TypeError:
            continue
        for attribute, value in members.items():
            if value is target:
                return _pointer_for(module_name, module, attribute)
    raise DagsterInvariantViolationError(
        f"Job '{target.name}' is not defined at the top level of an importable module, so other "
        "processes cannot load it. Define it at module level (not inside a function) and pass that "
        "module-level object to reconstructable()."
    )


def _pointer_for(module_name: str, module: Any, attribute: str) -> ReconstructableJob:
    cwd = os.getcwd()
    if module_name == "__main__":
        path = getattr(module, "__file__", None)
        if not path:
            raise DagsterInvariantViolationError(
                "The job is defined in an interactive session (no __main__ file), so other processes cannot load it."
            )
        return ReconstructableJob(attribute, python_file=os.path.abspath(path), working_directory=cwd)
    module_file = getattr(module, "__file__", None)
    extra: tuple[str, ...] = ()
    if module_file and "." not in module_name:
        # A top-level module: make sure its folder is importable in the child.
        extra = (os.path.dirname(os.path.abspath(module_file)),)
    return ReconstructableJob(attribute, module_name=module_name, working_directory=cwd, extra_sys_path=extra)
