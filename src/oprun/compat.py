"""The compatibility alias: lets code written for Dagster's op-job API run on oprun
unchanged, by making `import dagster` (and `from dagster import job, op, ...`)
resolve to oprun in this process.

`install()` adds an import hook; the code-location loader calls it before
importing user code when the real `dagster` package is not installed. Only
oprun's public names are offered; Dagster's private modules (`dagster._core...`)
are not emulated. Knows nothing of the rest of oprun beyond its module names.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

ALIAS = "dagster"
TARGET = "oprun"


class _AliasLoader:
    """Hands out the already-imported oprun module instead of creating one.
    (A plain class: the loader protocol needs no base, and importlib.abc is slow
    to import.)"""

    def __init__(self, target: str) -> None:
        self.target = target
        self._module: ModuleType | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        self._module = importlib.import_module(self.target)
        self._original_spec = self._module.__spec__
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamps the alias spec on the module; oprun's module
        # keeps its own identity, so put its spec back.
        module.__spec__ = self._original_spec


class DagsterAliasFinder:
    """Finds `dagster` and `dagster.<sub>` as `oprun` and `oprun.<sub>`."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        real = TARGET + fullname[len(ALIAS):]
        if real != TARGET and importlib.util.find_spec(real) is None:
            return None
        # typeshed wants an importlib.abc.Loader; the import system needs only the protocol.
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real))  # type: ignore[arg-type]


_finder: DagsterAliasFinder | None = None


def real_dagster_installed() -> bool:
    """Whether the real `dagster` package can be imported (ignoring this alias)."""
    module = sys.modules.get(ALIAS)
    if module is not None:
        return not _is_alias(module)
    if is_installed():
        return any(
            finder is not _finder and getattr(finder, "find_spec", None) and finder.find_spec(ALIAS, None) is not None
            for finder in sys.meta_path
        )
    return importlib.util.find_spec(ALIAS) is not None


def install(force: bool = False) -> bool:
    """Make `dagster` mean oprun in this process. Does nothing (and returns False)
    when the real `dagster` is installed, unless `force`; True once installed."""
    global _finder
    if is_installed():
        return True
    if not force and real_dagster_installed():
        return False
    _finder = DagsterAliasFinder()
    sys.meta_path.insert(0, _finder)
    return True


def uninstall() -> None:
    """Remove the alias and forget the `dagster` modules it handed out."""
    global _finder
    if _finder is not None:
        try:
            sys.meta_path.remove(_finder)
        except ValueError:
            pass
        _finder = None
    for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
        if _is_alias(sys.modules[name]):
            del sys.modules[name]


def is_installed() -> bool:
    return _finder is not None and _finder in sys.meta_path


def _is_alias(module: Any) -> bool:
    return getattr(module, "__name__", "").split(".")[0] == TARGET
