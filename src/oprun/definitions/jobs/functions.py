"""What oprun reads off a decorated function: its parameters, whether it is a
generator or a coroutine, and its docstring.

`inspect` takes longer to import than the rest of the definitions layer, and a
plain function carries everything needed in `__code__`, `__defaults__` and
`__annotations__`. Anything else (a partial, a callable object, a function with
`__wrapped__` or `__signature__`) goes through `inspect.signature`, imported then.
"""

from __future__ import annotations

import functools
import types
from typing import Any, NamedTuple

# The marker for "no default" / "no annotation", as `inspect.Parameter.empty`.
EMPTY: Any = type("EMPTY", (), {"__repr__": lambda self: "EMPTY"})()

POSITIONAL = "positional"  # positional-only or positional-or-keyword
VAR_POSITIONAL = "var_positional"
KEYWORD_ONLY = "keyword_only"
VAR_KEYWORD = "var_keyword"

# Code object flags (the `inspect.CO_*` values, stable across CPython versions).
_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


class Parameter(NamedTuple):
    name: str
    kind: str
    default: Any = EMPTY
    annotation: Any = EMPTY


# Dagster's permutations of `context`: a first parameter with one of these names
# receives the context (the name decides, not the annotation).
CONTEXT_NAMES = frozenset({"context", "_", "_context", "context_"})


def has_context_param(params: list[Parameter], positional_only: bool = False) -> bool:
    """Whether the first of `params` is the context, by Dagster's rule for ops
    (any kind of parameter) and hooks (`positional_only`: it must be positional)."""
    if not params or params[0].name not in CONTEXT_NAMES:
        return False
    return not positional_only or params[0].kind == POSITIONAL


def _is_plain(fn: Any) -> bool:
    return type(fn) is types.FunctionType and not hasattr(fn, "__wrapped__") and not hasattr(fn, "__signature__")


def parameters(fn: Any) -> list[Parameter]:
    """The parameters of `fn`, in signature order, as `inspect.signature` gives them."""
    if not _is_plain(fn):
        return _parameters_by_inspect(fn)
    code = fn.__code__
    names = code.co_varnames
    annotations = fn.__annotations__
    defaults = fn.__defaults__ or ()
    kw_defaults = fn.__kwdefaults__ or {}
    n_positional = code.co_argcount
    n_keyword = code.co_kwonlyargcount
    first_default = n_positional - len(defaults)
    params = [
        Parameter(name, POSITIONAL, defaults[i - first_default] if i >= first_default else EMPTY, annotations.get(name, EMPTY))
        for i, name in enumerate(names[:n_positional])
    ]
    extra = n_positional + n_keyword  # *args and **kwargs names come after the keyword-only ones
    if code.co_flags & _CO_VARARGS:
        name = names[extra]
        params.append(Parameter(name, VAR_POSITIONAL, EMPTY, annotations.get(name, EMPTY)))
        extra += 1
    for name in names[n_positional:n_positional + n_keyword]:
        params.append(Parameter(name, KEYWORD_ONLY, kw_defaults.get(name, EMPTY), annotations.get(name, EMPTY)))
    if code.co_flags & _CO_VARKEYWORDS:
        name = names[extra]
        params.append(Parameter(name, VAR_KEYWORD, EMPTY, annotations.get(name, EMPTY)))
    return params


def _parameters_by_inspect(fn: Any) -> list[Parameter]:
    import inspect

    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: POSITIONAL,
        inspect.Parameter.POSITIONAL_OR_KEYWORD: POSITIONAL,
        inspect.Parameter.VAR_POSITIONAL: VAR_POSITIONAL,
        inspect.Parameter.KEYWORD_ONLY: KEYWORD_ONLY,
        inspect.Parameter.VAR_KEYWORD: VAR_KEYWORD,
    }
    empty = inspect.Parameter.empty
    return [
        Parameter(
            p.name,
            kinds[p.kind],
            EMPTY if p.default is empty else p.default,
            EMPTY if p.annotation is empty else p.annotation,
        )
        for p in inspect.signature(fn).parameters.values()
    ]


def return_annotation(fn: Any) -> Any:
    if _is_plain(fn):
        return fn.__annotations__.get("return", EMPTY)
    import inspect

    annotation = inspect.signature(fn).return_annotation
    return EMPTY if annotation is inspect.Signature.empty else annotation


def _flags(fn: Any) -> int:
    # As inspect does: look through bound methods and functools.partial.
    while True:
        if isinstance(fn, types.MethodType):
            fn = fn.__func__
        elif isinstance(fn, functools.partial):
            fn = fn.func
        else:
            break
    code = getattr(fn, "__code__", None)
    return code.co_flags if isinstance(code, types.CodeType) else 0


def is_generator_function(fn: Any) -> bool:
    return bool(_flags(fn) & _CO_GENERATOR)


def is_coroutine_function(fn: Any) -> bool:
    # `inspect.markcoroutinefunction` (Python 3.12) marks sync functions that return awaitables.
    return bool(_flags(fn) & _CO_COROUTINE) or getattr(fn, "_is_coroutine_marker", None) is not None


def is_async_generator_function(fn: Any) -> bool:
    return bool(_flags(fn) & _CO_ASYNC_GENERATOR)


def docstring(fn: Any) -> str | None:
    """The docstring with its common indentation removed, as `inspect.getdoc`."""
    if not _is_plain(fn):
        import inspect

        return inspect.getdoc(fn)
    doc = fn.__doc__
    if not isinstance(doc, str):
        return None
    lines = doc.expandtabs().split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(indents, default=0)
    lines = [lines[0].lstrip()] + [line[margin:] for line in lines[1:]]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)
