"""What a user meets when a step fails in a way oprun detects: public errors from
oprun.errors, as Dagster raises them, recorded as FRAMEWORK_ERROR failures."""

import pytest

from oprun import DagsterInvariantViolationError, Out, job, op


@op(out={"a": Out(), "b": Out()})
def two_outputs():
    return 1  # not a tuple of two


@job
def bad_return():
    two_outputs()


def test_a_bad_return_is_a_dagster_invariant_violation():
    with pytest.raises(DagsterInvariantViolationError, match="return a tuple of 2 values"):
        bad_return.execute_in_process()
    result = bad_return.execute_in_process(raise_on_error=False)
    failure = result.get_step_failure_events()[0]
    assert failure.event_specific_data.error_source == "FRAMEWORK_ERROR"
