"""Code locations: finding the `Definitions` of a Python file, a module or a
workspace, for the command line, the web server and re-launched runs.

A `CodePointer` records where a location comes from (file or module, attribute,
working directory) so another process can load it again. Every way loading can
fail (missing file, syntax error, import error, nothing or too much found, a bad
workspace file) raises one `DagsterCodeLocationLoadError` that names the file and
line and says what to do, with the original exception as its cause.

Knows definitions and the compatibility alias; never execution, storage or a
surface.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

from oprun.definitions.automation.schedules import ScheduleDefinition
from oprun.definitions.automation.sensors import SensorDefinition
from oprun.definitions.definitions import Definitions, RepositoryDefinition
from oprun.definitions.jobs.graph import GraphDefinition
from oprun.definitions.jobs.job import JobDefinition
from oprun.errors import DagsterCodeLocationLoadError, DagsterError, did_you_mean

_OPRUN_DIR = os.path.dirname(os.path.abspath(__file__))


def load_error(message: str, file: str | None = None, line: int | None = None) -> DagsterCodeLocationLoadError:
    """A load error carrying the place as data too (`file`, `line`), for the UI."""
    error = DagsterCodeLocationLoadError(message)
    error.file = file  # type: ignore[attr-defined]
    error.line = line  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True)
class CodePointer:
    """Where a code location's definitions come from."""

    python_file: str | None = None
    module_name: str | None = None
    attribute: str | None = None
    working_directory: str | None = None

    def __post_init__(self) -> None:
        if (self.python_file is None) == (self.module_name is None):
            raise load_error(
                "A code location is either a Python file or a module: give exactly one of python_file "
                "(-f/--python-file) and module_name (-m/--module-name)."
            )

    def load(self) -> Definitions:
        return load_definitions(self.python_file, self.module_name, self.working_directory, self.attribute)

    def describe(self) -> str:
        where = self.python_file if self.python_file is not None else f"module {self.module_name}"
        return f"{where}:{self.attribute}" if self.attribute else str(where)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> CodePointer:
        fields = ("python_file", "module_name", "attribute", "working_directory")
        return CodePointer(**{k: data.get(k) for k in fields})


@dataclass
class CodeLocation:
    """One code location: a name, its pointer, and its definitions once loaded
    (or the error that loading met, kept so other locations keep working)."""

    name: str
    pointer: CodePointer
    _definitions: Definitions | None = field(default=None, repr=False)
    _error: DagsterCodeLocationLoadError | None = field(default=None, repr=False)

    @property
    def origin(self) -> CodePointer:
        return self.pointer

    def load(self) -> Definitions:
        """The location's definitions, loaded once; raises the load error."""
        if self._definitions is None and self._error is None:
            try:
                self._definitions = self.pointer.load()
            except DagsterCodeLocationLoadError as error:
                self._error = error
        if self._error is not None:
            raise self._error
        assert self._definitions is not None
        return self._definitions

    @property
    def definitions(self) -> Definitions:
        return self.load()

    @property
    def load_error(self) -> DagsterCodeLocationLoadError | None:
        """The error loading met, or None (loads the location if not yet loaded)."""
        try:
            self.load()
        except DagsterCodeLocationLoadError as error:
            return error
        return None

    def reload(self) -> Definitions:
        """Import the location's code again (after an edit) and return its definitions."""
        self._definitions, self._error = None, None
        p = self.pointer
        try:
            self._definitions = load_definitions(p.python_file, p.module_name, p.working_directory, p.attribute, reload=True)
        except DagsterCodeLocationLoadError as error:
            self._error = error
            raise
        return self._definitions


# --- loading one location --------------------------------------------------------------------


def load_definitions(
    python_file: str | os.PathLike[str] | None = None,
    module_name: str | None = None,
    working_directory: str | os.PathLike[str] | None = None,
    attribute: str | None = None,
    *,
    reload: bool = False,
) -> Definitions:
    """The Definitions of a file or module: the one module-level `Definitions`
    (or the one named by `attribute`), else a `@repository`, else the module's
    jobs, graphs, schedules and sensors gathered together."""
    if (python_file is None) == (module_name is None):
        raise load_error("Give exactly one of python_file (-f/--python-file) and module_name (-m/--module-name).")
    directory = os.path.abspath(working_directory) if working_directory is not None else None
    if directory is not None and not os.path.isdir(directory):
        raise load_error(
            f"Could not load code location: the working directory {working_directory} does not exist "
            f"({directory}). Check -d/--working-directory."
        )
    _install_compat_if_needed()
    if python_file is not None:
        path = os.path.abspath(python_file)
        module = _import_file(str(python_file), path, directory, reload)
        target = str(python_file)
    else:
        assert module_name is not None
        module = _import_module(module_name, directory, reload)
        target = f"module {module_name}"
    definitions = _find_definitions(module, attribute, target)
    try:
        Definitions.validate_loadable(definitions)
    except DagsterError as error:
        raise load_error(f"Could not load code location from {target}: {error}", getattr(module, "__file__", None)) from error
    return definitions


def _install_compat_if_needed() -> None:
    from oprun import compat

    compat.install()  # a no-op when the real dagster is installed


def _put_on_path(directory: str) -> None:
    # Like Dagster: the location's directory comes first, so its local modules win.
    if directory not in sys.path:
        sys.path.insert(0, directory)


def _import_file(given: str, path: str, working_directory: str | None, reload: bool) -> ModuleType:
    if not os.path.exists(path):
        folder = os.path.dirname(path)
        siblings = [n for n in os.listdir(folder) if n.endswith(".py")] if os.path.isdir(folder) else []
        hint = did_you_mean(os.path.basename(path), siblings)
        raise load_error(
            f"Could not load code location: the file {given} does not exist ({path}).{hint} "
            "Check the path given to -f/--python-file (relative paths start from the current directory)."
        )
    if os.path.isdir(path):
        raise load_error(
            f"Could not load code location: {given} is a directory, not a Python file. Pass a .py file with -f, "
            "or a package with -m/--module-name."
        )
    root = working_directory or os.path.dirname(path)
    _put_on_path(root)
    name = os.path.splitext(os.path.basename(path))[0]
    existing = sys.modules.get(name)
    if existing is not None and _same_file(existing, path):
        if not reload:
            return existing
    elif existing is not None:
        # Another module already has this name (e.g. two locations' `definitions.py`).
        name = f"__oprun_location__.{abs(hash(path)):x}.{name}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise load_error(f"Could not load code location: {given} is not a Python file (expected a .py file).", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        sys.modules.pop(name, None)
        raise _user_code_error(error, given, root) from error
    return module


def _same_file(module: ModuleType, path: str) -> bool:
    module_file = getattr(module, "__file__", None)
    return bool(module_file) and os.path.abspath(module_file) == path  # type: ignore[arg-type]


def _import_module(module_name: str, working_directory: str | None, reload: bool) -> ModuleType:
    root = working_directory or os.getcwd()
    _put_on_path(root)
    target = f"module {module_name}"
    try:
        if reload and module_name in sys.modules:
            return importlib.reload(sys.modules[module_name])
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise load_error(
                f"Could not load code location: no module named '{module_name}' (looked for '{missing}'). Install "
                f"it in this Python environment ({sys.executable}), or pass -d/--working-directory with the "
                f"directory that contains it (searched from {root})."
            ) from error
        raise _user_code_error(error, target, root) from error
    except (Exception, SystemExit) as error:
        raise _user_code_error(error, target, root) from error


def _user_code_error(error: BaseException, target: str, root: str) -> DagsterCodeLocationLoadError:
    if isinstance(error, SyntaxError):
        file, line = error.filename, error.lineno
        lines = [f"Could not load code location from {target}: syntax error in {file}, line {line}: {error.msg}"]
        if error.text:
            lines.append(f"    {error.text.rstrip()}")
            if error.offset:
                indent = len(error.text) - len(error.text.lstrip())
                lines.append("    " + " " * max(error.offset - 1 - indent, 0) + "^")
        lines.append("Fix the syntax error and load the location again.")
        return load_error("\n".join(lines), file, line)
    frame = _user_frame(error, root)
    place = f"{frame.filename}, line {frame.lineno}" if frame else "an unknown place"
    kind = type(error).__name__
    lines = [f"Could not load code location from {target}: {kind} at {place}: {error}"]
    if frame is not None and frame.line:
        lines.append(f"    {frame.line.strip()}")
    if isinstance(error, ModuleNotFoundError):
        lines.append(
            f"The module '{error.name}' could not be imported. Install it in this Python environment "
            f"({sys.executable}) or, if it is one of your own modules, pass -d/--working-directory with the "
            f"directory that contains it (local modules were resolved from {root})."
        )
    elif isinstance(error, ImportError):
        lines.append(f"Check the import at that line (local modules were resolved from {root}).")
    elif isinstance(error, DagsterError):
        lines.append("Fix the definition at that line and load the location again.")
    else:
        lines.append("Fix the error raised at that line and load the location again.")
    return load_error("\n".join(lines), frame.filename if frame else None, frame.lineno if frame else None)


def _user_frame(error: BaseException, root: str) -> traceback.FrameSummary | None:
    """The innermost frame in the user's code: under the location's directory and
    not in oprun, the import machinery or installed packages."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith("<")
        and not os.path.abspath(f.filename).startswith(_OPRUN_DIR + os.sep)
        and "importlib" not in f.filename
    ]
    local = [f for f in frames if os.path.abspath(f.filename).startswith(root + os.sep) and "site-packages" not in f.filename]
    chosen = local or frames
    return chosen[-1] if chosen else None


# --- finding the definitions in a module ------------------------------------------------------

_LOADABLE = (Definitions, RepositoryDefinition, JobDefinition, GraphDefinition, ScheduleDefinition, SensorDefinition)


def _find_definitions(module: ModuleType, attribute: str | None, target: str) -> Definitions:
    members = vars(module)
    if attribute is not None:
        if attribute not in members:
            loadable = [n for n, v in members.items() if isinstance(v, _LOADABLE)]
            raise load_error(
                f"Could not load code location from {target}: it has no attribute '{attribute}'."
                f"{did_you_mean(attribute, loadable)} Loadable attributes: {', '.join(loadable) or 'none'}.",
                getattr(module, "__file__", None),
            )
        return _coerce(members[attribute], attribute, target)
    for kind in (Definitions, RepositoryDefinition):
        found = _unique_named(members, kind)
        if len(found) == 1:
            return _coerce(found[0][1], found[0][0], target)
        if len(found) > 1:
            raise _too_many(module, target, kind.__name__, [n for n, _ in found])
    gathered = {kind: [v for _, v in _unique_named(members, kind)] for kind in (JobDefinition, GraphDefinition, ScheduleDefinition, SensorDefinition)}
    if gathered[JobDefinition]:
        # Graphs beside jobs are usually their building blocks, not jobs to offer.
        gathered[GraphDefinition] = []
    if not any(gathered.values()):
        raise load_error(
            f"Could not load code location from {target}: no Definitions found. Add one at module level, e.g. "
            "`defs = Definitions(jobs=[my_job])`, or define jobs at module level, or name the object to load with "
            "-a/--attribute.",
            getattr(module, "__file__", None),
        )
    try:
        return Definitions(
            jobs=gathered[JobDefinition] + gathered[GraphDefinition],
            schedules=gathered[ScheduleDefinition],
            sensors=gathered[SensorDefinition],
        )
    except DagsterError as error:
        raise load_error(
            f"Could not load code location from {target}: gathering its module-level jobs, schedules and sensors "
            f"failed: {error} Define a Definitions object to choose what it holds.",
            getattr(module, "__file__", None),
        ) from error


def _unique_named(members: Mapping[str, Any], kind: type) -> list[tuple[str, Any]]:
    seen: dict[int, tuple[str, Any]] = {}
    for name, value in members.items():
        if isinstance(value, kind) and not name.startswith("__") and id(value) not in seen:
            seen[id(value)] = (name, value)
    return list(seen.values())


def _too_many(module: ModuleType, target: str, kind: str, names: list[str]) -> DagsterCodeLocationLoadError:
    file = getattr(module, "__file__", None)
    lines = _assignment_lines(file, names) if file else {}
    listed = ", ".join(f"{n} (line {lines[n]})" if n in lines else n for n in names)
    first = min(lines.values()) if lines else None
    return load_error(
        f"Could not load code location from {target}: found {len(names)} {kind} objects at module level: {listed}. "
        f"Keep one, or choose one with -a/--attribute (e.g. -a {names[0]}).",
        file,
        first,
    )


def _assignment_lines(file: str, names: Sequence[str]) -> dict[str, int]:
    import ast

    try:
        with open(file, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), file)
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: dict[str, int] = {}
    for node in tree.body:
        targets: list[Any] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            if node.name in names:
                lines.setdefault(node.name, node.lineno)
            continue
        for t in targets:
            if isinstance(t, ast.Name) and t.id in names:
                lines.setdefault(t.id, node.lineno)
    return lines


def _coerce(value: Any, attribute: str, target: str, called: bool = False) -> Definitions:
    if isinstance(value, Definitions):
        return value
    if isinstance(value, RepositoryDefinition):
        return value.definitions
    if isinstance(value, (JobDefinition, GraphDefinition)):
        return Definitions(jobs=[value])
    if isinstance(value, ScheduleDefinition):
        return Definitions(schedules=[value])
    if isinstance(value, SensorDefinition):
        return Definitions(sensors=[value])
    if callable(value) and not called and not isinstance(value, type):
        # A function that builds the definitions lazily.
        try:
            built = value()
        except Exception as error:
            raise load_error(
                f"Could not load code location from {target}: calling '{attribute}' to build the definitions "
                f"raised {type(error).__name__}: {error}"
            ) from error
        return _coerce(built, attribute, target, called=True)
    raise load_error(
        f"Could not load code location from {target}: '{attribute}' is {type(value).__name__}, not a Definitions "
        "object, a repository, a job or a graph."
    )


# --- workspaces and defaults ------------------------------------------------------------------

_ENTRY_KEYS = {
    "python_file": ("relative_path", "attribute", "working_directory", "location_name", "executable_path"),
    "python_module": ("module_name", "attribute", "working_directory", "location_name", "executable_path"),
    "python_package": ("package_name", "attribute", "working_directory", "location_name", "executable_path"),
}


def load_workspace(path: str | os.PathLike[str]) -> list[CodeLocation]:
    """The code locations a workspace.yaml lists (not loaded yet: each loads on
    first use, and a failing one does not stop the others)."""
    import yaml

    workspace = os.path.abspath(path)
    if not os.path.isfile(workspace):
        raise load_error(f"Could not load workspace: the file {path} does not exist ({workspace}).")
    try:
        with open(workspace, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise load_error(
            f"Could not read workspace file {workspace}{f', line {line}' if line else ''}: {problem}. Fix the YAML.",
            workspace,
            line,
        ) from error
    entries = data.get("load_from") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise load_error(
            f"Workspace file {workspace} needs a non-empty `load_from:` list, e.g.\n"
            "load_from:\n  - python_file: jobs.py\n  - python_module: my_package.definitions",
            workspace,
        )
    base = os.path.dirname(workspace)
    locations = [_workspace_entry(entry, index, workspace, base) for index, entry in enumerate(entries, start=1)]
    names = [loc.name for loc in locations]
    for name in names:
        if names.count(name) > 1:
            raise load_error(
                f"Workspace file {workspace} has two code locations named '{name}': give each entry a distinct "
                "location_name.",
                workspace,
            )
    return locations


def _workspace_entry(entry: Any, index: int, workspace: str, base: str) -> CodeLocation:
    where = f"Workspace file {workspace}, entry {index} of load_from"
    if not isinstance(entry, dict) or len(entry) != 1:
        raise load_error(f"{where}: each entry is one of python_file:, python_module: or python_package:, got {entry!r}.", workspace)
    kind, value = next(iter(entry.items()))
    if kind == "grpc_server":
        raise load_error(
            f"{where}: grpc_server locations are not supported: oprun loads code locations itself. Use python_file "
            "or python_module instead.",
            workspace,
        )
    if kind not in _ENTRY_KEYS:
        raise load_error(f"{where}: unknown kind '{kind}'.{did_you_mean(kind, _ENTRY_KEYS)} Use one of {sorted(_ENTRY_KEYS)}.", workspace)
    main_key = _ENTRY_KEYS[kind][0]
    options: dict[str, Any] = {main_key: value} if isinstance(value, str) else value
    if not isinstance(options, dict):
        raise load_error(f"{where}: {kind} takes a string or a mapping, got {value!r}.", workspace)
    unknown = [k for k in options if k not in _ENTRY_KEYS[kind]]
    if unknown:
        raise load_error(
            f"{where}: unknown option '{unknown[0]}' for {kind}.{did_you_mean(unknown[0], _ENTRY_KEYS[kind])} "
            f"Options: {', '.join(_ENTRY_KEYS[kind])}.",
            workspace,
        )
    if not isinstance(options.get(main_key), str):
        raise load_error(f"{where}: {kind} needs {main_key}.", workspace)
    directory = options.get("working_directory")
    directory = os.path.normpath(os.path.join(base, directory)) if directory else None
    if kind == "python_file":
        file = os.path.normpath(os.path.join(base, options[main_key]))
        pointer = CodePointer(python_file=file, attribute=options.get("attribute"), working_directory=directory)
        default_name = os.path.basename(file)  # Dagster names a file's location by the file: `jobs.py`
    else:
        module = options[main_key]
        pointer = CodePointer(module_name=module, attribute=options.get("attribute"), working_directory=directory or base)
        default_name = module
    return CodeLocation(options.get("location_name") or default_name, pointer)


def default_locations(cwd: str | os.PathLike[str] | None = None) -> list[CodeLocation]:
    """The code locations to use when none is given: `[tool.oprun]` (or
    `[tool.dagster]`) in pyproject.toml, else workspace.yaml, in `cwd`."""
    directory = os.path.abspath(cwd or os.getcwd())
    pyproject = os.path.join(directory, "pyproject.toml")
    if os.path.isfile(pyproject):
        location = _pyproject_location(pyproject, directory)
        if location is not None:
            return [location]
    workspace = os.path.join(directory, "workspace.yaml")
    if os.path.isfile(workspace):
        return load_workspace(workspace)
    raise load_error(
        f"No code location given, and none is configured in {directory}. Pass -f FILE or -m MODULE (or -w "
        "workspace.yaml), or add to pyproject.toml:\n[tool.oprun]\nmodule_name = \"my_package.definitions\""
    )


def default_location(cwd: str | os.PathLike[str] | None = None) -> CodeLocation:
    """The one default code location; an error when the workspace lists several."""
    locations = default_locations(cwd)
    if len(locations) > 1:
        raise load_error(
            f"The workspace lists {len(locations)} code locations ({', '.join(location.name for location in locations)}); "
            "choose one with -l/--location, or pass -f/-m."
        )
    return locations[0]


def _pyproject_location(pyproject: str, directory: str) -> CodeLocation | None:
    import tomllib

    try:
        with open(pyproject, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise load_error(f"Could not read {pyproject}: {error}. Fix the TOML.", pyproject) from error
    tool = data.get("tool", {})
    section = tool.get("oprun") or tool.get("dagster")
    if not section:
        return None
    table = "[tool.oprun]" if tool.get("oprun") else "[tool.dagster]"
    module_name, python_file = section.get("module_name"), section.get("python_file")
    if (module_name is None) == (python_file is None):
        raise load_error(
            f"{pyproject} {table}: give exactly one of module_name and python_file.", pyproject
        )
    working = section.get("working_directory")
    working_directory = os.path.normpath(os.path.join(directory, working)) if working else None
    if python_file is not None:
        file = os.path.normpath(os.path.join(directory, python_file))
        pointer = CodePointer(python_file=file, attribute=section.get("attribute"), working_directory=working_directory)
        default_name = os.path.basename(file)  # Dagster names a file's location by the file: `jobs.py`
    else:
        pointer = CodePointer(module_name=module_name, attribute=section.get("attribute"), working_directory=working_directory or directory)
        default_name = module_name
    name = section.get("location_name") or section.get("code_location_name") or default_name
    return CodeLocation(name, pointer)


def locations_from_args(
    python_files: Sequence[str] = (),
    module_names: Sequence[str] = (),
    working_directory: str | None = None,
    attribute: str | None = None,
    workspace: str | None = None,
    cwd: str | None = None,
) -> list[CodeLocation]:
    """The locations a command line names (-f, -m, -d, -a, -w), else the default."""
    if workspace is not None:
        if python_files or module_names:
            raise load_error("Pass either -w/--workspace or -f/-m, not both.")
        return load_workspace(workspace)
    locations: list[CodeLocation] = []
    for file in python_files:
        path = os.path.abspath(file)
        pointer = CodePointer(python_file=path, attribute=attribute, working_directory=working_directory and os.path.abspath(working_directory))
        locations.append(CodeLocation(os.path.basename(path), pointer))  # as Dagster: `-f jobs.py` is location `jobs.py`
    for module in module_names:
        pointer = CodePointer(module_name=module, attribute=attribute, working_directory=os.path.abspath(working_directory or cwd or os.getcwd()))
        locations.append(CodeLocation(module, pointer))
    return locations or default_locations(cwd)
