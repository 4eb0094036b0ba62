"""Retries: RetryPolicy at invocation, op and job level (in that precedence),
RetryRequested, Failure(allow_retries=False), and the events they leave."""

from oprun import Failure, RetryPolicy, RetryRequested, job, op


def _flaky(fail_times, exc=RuntimeError):
    calls = {"n": 0}

    def body():
        calls["n"] += 1
        if calls["n"] <= fail_times:
            raise exc("not yet")
        return calls["n"]

    return calls, body


def test_op_retry_policy_retries_until_success():
    calls, body = _flaky(2)

    @op(retry_policy=RetryPolicy(max_retries=3))
    def flaky():
        return body()

    @job
    def j():
        flaky()

    result = j.execute_in_process()
    assert result.success and calls["n"] == 3
    assert result.retry_attempts_for_node("flaky") == 2
    kinds = [e.event_type_value for e in result.events_for_node("flaky")]
    assert kinds[:4] == ["STEP_START", "STEP_UP_FOR_RETRY", "STEP_RESTARTED", "STEP_UP_FOR_RETRY"]
    assert kinds[-1] == "STEP_SUCCESS"


def test_exhausted_retries_fail_the_step():
    calls, body = _flaky(5)

    @op(retry_policy=RetryPolicy(max_retries=1))
    def flaky():
        return body()

    @job
    def j():
        flaky()

    result = j.execute_in_process(raise_on_error=False)
    assert not result.success and calls["n"] == 2


def test_precedence_invocation_over_op_over_job():
    calls, body = _flaky(10)

    @op(retry_policy=RetryPolicy(max_retries=1))
    def flaky():
        return body()

    @job(op_retry_policy=RetryPolicy(max_retries=5))
    def j():
        flaky.with_retry_policy(RetryPolicy(max_retries=2))()

    j.execute_in_process(raise_on_error=False)
    assert calls["n"] == 3

    calls2, body2 = _flaky(10)

    @op
    def plain():
        return body2()

    @job(op_retry_policy=RetryPolicy(max_retries=4))
    def k():
        plain()

    k.execute_in_process(raise_on_error=False)
    assert calls2["n"] == 5


def test_retry_requested_and_failure_without_retries():
    calls = {"n": 0}

    @op
    def asks():
        calls["n"] += 1
        if calls["n"] < 3:
            raise RetryRequested(max_retries=3)
        return "ok"

    @job
    def j():
        asks()

    assert j.execute_in_process().output_for_node("asks") == "ok"

    attempts = {"n": 0}

    @op(retry_policy=RetryPolicy(max_retries=3))
    def final():
        attempts["n"] += 1
        raise Failure("stop", allow_retries=False)

    @job
    def k():
        final()

    assert not k.execute_in_process(raise_on_error=False).success
    assert attempts["n"] == 1


def test_executor_retries_disabled():
    calls, body = _flaky(1)

    @op(retry_policy=RetryPolicy(max_retries=3))
    def flaky():
        return body()

    @job
    def j():
        flaky()

    result = j.execute_in_process(
        run_config={"execution": {"config": {"in_process": {"retries": {"disabled": {}}}}}}, raise_on_error=False
    )
    assert not result.success and calls["n"] == 1
