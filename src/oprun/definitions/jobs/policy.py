"""Retry policies: how many times a failed step is retried and how long to wait."""

from __future__ import annotations

from enum import Enum

from oprun.errors import DagsterInvalidDefinitionError


class Backoff(Enum):
    """How the delay grows between attempts: LINEAR n*delay, EXPONENTIAL (2**n - 1)*delay."""

    LINEAR = "LINEAR"
    EXPONENTIAL = "EXPONENTIAL"


class Jitter(Enum):
    """Randomness added to the delay: FULL random()*d, PLUS_MINUS d ± random()*delay."""

    FULL = "FULL"
    PLUS_MINUS = "PLUS_MINUS"


class RetryPolicy:
    """Retry a failed step up to `max_retries` times, waiting `delay` seconds (shaped
    by `backoff` and `jitter`) between attempts."""

    __slots__ = ("max_retries", "delay", "backoff", "jitter")

    def __init__(
        self,
        max_retries: int = 1,
        delay: float | None = None,
        backoff: Backoff | None = None,
        jitter: Jitter | None = None,
    ) -> None:
        if not isinstance(max_retries, int) or max_retries < 0:
            raise DagsterInvalidDefinitionError(
                f"RetryPolicy max_retries must be a non-negative int, got {max_retries!r}"
            )
        if backoff is not None and delay is None:
            raise DagsterInvalidDefinitionError(
                "RetryPolicy has a backoff but no delay: backoff multiplies the delay, so set delay= too."
            )
        if jitter is not None and delay is None:
            raise DagsterInvalidDefinitionError(
                "RetryPolicy has a jitter but no delay: jitter varies the delay, so set delay= too."
            )
        self.max_retries = max_retries
        self.delay = delay
        self.backoff = backoff
        self.jitter = jitter

    def calculate_delay(self, attempt_num: int) -> float:
        """Seconds to wait before attempt `attempt_num` (1 for the first retry)."""
        if self.delay is None:
            return 0.0
        delay = float(self.delay)
        if self.backoff is Backoff.LINEAR:
            delay = attempt_num * delay
        elif self.backoff is Backoff.EXPONENTIAL:
            delay = ((2**attempt_num) - 1) * delay
        if self.jitter is not None:
            import random  # only jittered policies need it; it is slow to import
        if self.jitter is Jitter.FULL:
            delay = random.random() * delay
        elif self.jitter is Jitter.PLUS_MINUS:
            delay = max(0.0, delay + (random.random() * 2 - 1) * float(self.delay))
        return delay

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetryPolicy) and (
            (self.max_retries, self.delay, self.backoff, self.jitter)
            == (other.max_retries, other.delay, other.backoff, other.jitter)
        )

    def __hash__(self) -> int:
        return hash((self.max_retries, self.delay, self.backoff, self.jitter))

    def __repr__(self) -> str:
        return f"RetryPolicy(max_retries={self.max_retries}, delay={self.delay}, backoff={self.backoff}, jitter={self.jitter})"
