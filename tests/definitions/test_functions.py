"""`oprun.definitions.jobs.functions` reads plain functions without `inspect`; it must
agree with `inspect` on every kind of signature, docstring and body."""

import functools
import inspect

import pytest

from oprun.definitions.jobs import functions


def positional(a, b=2, /, c=3):
    pass


def everything(context, x: int, y: "str" = "d", *args: int, k: float, m=None, **kwargs) -> list:
    """First line.

        Indented more.
    Back.

    """


def keyword_only(*, a, b=1):
    """   Leading spaces on the first line."""


def no_doc():
    pass


def gen():
    yield 1


async def coro():
    return 1


async def agen():
    yield 1


def wrapped(x, y):
    pass


@functools.wraps(wrapped)
def wrapper(*args, **kwargs):
    pass


class Callable:
    def __call__(self, q, r=1):
        """A callable object."""


FUNCTIONS = [positional, everything, keyword_only, no_doc, gen, coro, agen, wrapper, functools.partial(wrapped, 1), Callable()]


def _by_inspect(fn):
    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: functions.POSITIONAL,
        inspect.Parameter.POSITIONAL_OR_KEYWORD: functions.POSITIONAL,
        inspect.Parameter.VAR_POSITIONAL: functions.VAR_POSITIONAL,
        inspect.Parameter.KEYWORD_ONLY: functions.KEYWORD_ONLY,
        inspect.Parameter.VAR_KEYWORD: functions.VAR_KEYWORD,
    }
    empty = inspect.Parameter.empty
    return [
        (p.name, kinds[p.kind], None if p.default is empty else p.default, None if p.annotation is empty else p.annotation)
        for p in inspect.signature(fn).parameters.values()
    ]


def _ours(fn):
    return [
        (p.name, p.kind, None if p.default is functions.EMPTY else p.default, None if p.annotation is functions.EMPTY else p.annotation)
        for p in functions.parameters(fn)
    ]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_parameters_docstrings_and_kinds_agree_with_inspect(fn):
    assert _ours(fn) == _by_inspect(fn)
    assert functions.docstring(fn) == inspect.getdoc(fn)
    assert functions.is_generator_function(fn) == inspect.isgeneratorfunction(fn)
    assert functions.is_coroutine_function(fn) == inspect.iscoroutinefunction(fn)
    assert functions.is_async_generator_function(fn) == inspect.isasyncgenfunction(fn)


def test_return_annotation():
    assert functions.return_annotation(everything) is list
    assert functions.return_annotation(no_doc) is functions.EMPTY
    assert functions.return_annotation(wrapper) is functions.EMPTY
