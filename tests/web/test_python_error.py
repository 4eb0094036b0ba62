"""`PythonError` as Dagster shows it: the message, the class, the stack, and the
chain of exceptions an error was raised from (`cause`, `causes`, `errorChain`,
each link explicit for `raise ... from`), for a live exception and for one
stored in the event log; served through the schema."""

import pytest

from oprun.events import SerializableErrorInfo
from oprun.web.graphql.common import MAX_ERROR_CHAIN, PythonError, python_error
from oprun.web.graphql.events import python_error_of
from oprun.web.schema import build_schema


def _chained() -> BaseException:
    try:
        try:
            try:
                raise KeyError("missing")
            except KeyError:
                raise ValueError("bad value")  # noqa: B904 - implicit: raised while handling
        except ValueError as inner:
            raise RuntimeError("step failed") from inner
    except RuntimeError as outer:
        return outer
    raise AssertionError("unreachable")


def _shape(error: PythonError) -> tuple:
    return (
        error.class_name,
        error.message,
        error.cause.message if error.cause else None,
        [(link.is_explicit_link, link.error.class_name) for link in error.error_chain],
        [cause.message for cause in error.causes()],
    )


@pytest.mark.parametrize("convert", [python_error, lambda e: python_error_of(SerializableErrorInfo.from_exception(e))])
def test_an_error_carries_its_chain_of_causes(convert):
    error = convert(_chained())
    class_name, message, cause, chain, causes = _shape(error)
    assert class_name == "RuntimeError" and "step failed" in message
    assert "bad value" in cause
    assert chain == [(True, "ValueError"), (False, "KeyError")]
    assert [m.split(":")[0] for m in causes] == ["ValueError", "KeyError"]
    assert error.stack  # where it was raised
    # each link holds the rest of the chain below it
    assert error.cause.cause.message == error.causes()[1].message


def test_a_cycle_or_a_very_deep_chain_stops():
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert len(python_error(first).error_chain) == 1
    deepest = ValueError("0")
    for i in range(1, 50):
        try:
            raise ValueError(str(i)) from deepest
        except ValueError as exc:
            deepest = exc
    assert len(python_error(deepest).error_chain) == MAX_ERROR_CHAIN


def test_the_schema_serves_dagsters_python_error_fields():
    sdl = build_schema().as_str()
    python_error_type = sdl[sdl.index("type PythonError implements Error {"):]
    python_error_type = python_error_type[: python_error_type.index("}")]
    for field in ("message: String!", "className: String", "stack: [String!]!", "cause: PythonError",
                  "causes: [PythonError!]!", "errorChain: [ErrorChainLink!]!"):
        assert field in python_error_type
    assert "type ErrorChainLink implements Error" in sdl and "isExplicitLink: Boolean!" in sdl
