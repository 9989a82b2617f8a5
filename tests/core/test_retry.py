"""The retry policy: delay sequences (Prefect's shape), jitter, the cap, retry_on, validation."""

from __future__ import annotations

import math

import pytest

from nbflow.core.retry import MAX_DELAY, RetryPolicy, make_retry_policy
from nbflow.core.specs import make_asset
from nbflow.core.tasks import make_flow, make_task
from nbflow.errors import DefinitionError


@pytest.mark.parametrize(("policy", "delays"), [
    ({"retries": 3, "retry_delay": 0}, [0.0, 0.0, 0.0]),
    ({"retries": 3, "retry_delay": 1.0}, [1.0, 1.0, 1.0]),
    ({"retries": 4, "retry_delay": 1.0, "backoff": 2.0}, [1.0, 2.0, 4.0, 8.0]),
    ({"retries": 3, "retry_delay": 0.5, "backoff": 3.0}, [0.5, 1.5, 4.5]),
    ({"retries": 4, "retry_delay": [1, 5, 10]}, [1.0, 5.0, 10.0, 10.0]),
    ({"retries": 2, "retry_delay": [2, 3], "backoff": 10.0}, [2.0, 3.0]),  # a list ignores backoff
])
def test_retry_delays(policy, delays):  # type: ignore[no-untyped-def]
    p = make_retry_policy(**policy)
    assert [p.delay(n) for n in range(1, len(delays) + 1)] == pytest.approx(delays)


@pytest.mark.parametrize(("jitter", "r", "factor"), [
    (0.2, 0.0, 0.8), (0.2, 0.5, 1.0), (0.2, 1.0, 1.2), (0.5, 0.25, 0.75), (1.0, 0.0, 0.0),
])
def test_jitter_spreads_the_delay_with_the_given_random_source(jitter, r, factor):  # type: ignore[no-untyped-def]
    p = RetryPolicy(retries=2, retry_delay=10.0, backoff=2.0, jitter=jitter)
    assert p.delay(1, random=lambda: r) == pytest.approx(10.0 * factor)
    assert p.delay(2, random=lambda: r) == pytest.approx(20.0 * factor)


def test_jitter_stays_within_its_band():  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(7)
    p = RetryPolicy(retries=1, retry_delay=4.0, jitter=0.25)
    delays = [p.delay(1, rng.random) for _ in range(500)]
    assert min(delays) >= 3.0 and max(delays) <= 5.0
    assert max(delays) - min(delays) > 1.5  # it really spreads


@pytest.mark.parametrize(("retry_on", "error", "attempt", "expected"), [
    ((Exception,), ValueError(), 1, True),
    ((ConnectionError,), ValueError(), 1, False),
    ((ConnectionError,), ConnectionResetError(), 1, True),
    ((ValueError, KeyError), KeyError(), 2, True),
    ((Exception,), ValueError(), 3, False),  # retries=2: attempt 3 is the last
])
def test_should_retry(retry_on, error, attempt, expected):  # type: ignore[no-untyped-def]
    assert RetryPolicy(retries=2, retry_on=retry_on).should_retry(error, attempt) is expected



# Prefect's documented sequences: exponential_backoff(backoff_factor=10) waits 10, 20, 40
# (retry_delay=10, backoff=2 here); a list gives one delay per retry.
@pytest.mark.parametrize(("policy", "delays"), [
    ({"retries": 3, "retry_delay": 10, "backoff": 2}, [10.0, 20.0, 40.0]),
    ({"retries": 3, "retry_delay": [1, 10, 100]}, [1.0, 10.0, 100.0]),
    ({"retries": 3, "retry_delay": 0.5, "backoff": 2, "max_delay": 1.5}, [0.5, 1.0, 1.5]),
])
def test_prefect_sequences_and_the_cap(policy, delays):  # type: ignore[no-untyped-def]
    p = make_retry_policy(**policy)
    assert [p.delay(n) for n in range(1, len(delays) + 1)] == pytest.approx(delays)


@pytest.mark.parametrize("attempt", [30, 400, 10**6])
def test_a_huge_backoff_is_capped_instead_of_overflowing(attempt):  # type: ignore[no-untyped-def]
    p = RetryPolicy(retries=10**7, retry_delay=1.0, backoff=10.0)
    assert p.delay(attempt) == MAX_DELAY == 3600.0
    assert RetryPolicy(retries=10**7, retry_delay=1.0, backoff=10.0, jitter=0.5,
                       max_delay=60).delay(attempt, random=lambda: 0.99) == 60.0


def test_jitter_never_passes_the_cap():  # type: ignore[no-untyped-def]
    p = RetryPolicy(retries=3, retry_delay=100.0, jitter=0.5, max_delay=120)
    assert p.delay(1, random=lambda: 0.99) == 120.0
    assert p.delay(1, random=lambda: 0.0) == pytest.approx(50.0)


def _transient(error):  # type: ignore[no-untyped-def]
    return "again" in str(error)


@pytest.mark.parametrize(("error", "attempt", "expected"), [
    (RuntimeError("try again"), 1, True),
    (RuntimeError("bad input"), 1, False),
    (RuntimeError("try again"), 3, False),  # retries=2: the predicate is not even asked
])
def test_retry_on_accepts_a_predicate(error, attempt, expected):  # type: ignore[no-untyped-def]
    p = make_retry_policy(retries=2, retry_on=_transient)
    assert p.should_retry(error, attempt) is expected


@pytest.mark.parametrize("maker", [make_task, make_asset])
def test_decorators_accept_a_retry_on_predicate(maker):  # type: ignore[no-untyped-def]
    def work():  # type: ignore[no-untyped-def]
        return 1

    spec = maker(work, retries=1, retry_on=_transient)
    assert spec.retry.retry_on is _transient and spec.retry.should_retry(ValueError("again"), 1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"retry_delay": math.inf}, "retry_delay must be seconds"),
    ({"retry_delay": math.nan}, "retry_delay must be seconds"),
    ({"retry_delay": [1, math.nan]}, "retry_delay must be seconds"),
    ({"retry_delay": -0.5}, "retry_delay must be seconds"),
    ({"retry_delay": 7200}, "longer than max_delay"),
    ({"backoff": math.inf}, "backoff must be a number"),
    ({"backoff": math.nan}, "backoff must be a number"),
    ({"jitter": math.nan}, "jitter must be a fraction"),
    ({"max_delay": math.inf}, "max_delay must be a finite number"),
    ({"max_delay": -1}, "max_delay must be a finite number"),
    ({"retry_on": 42}, "retry_on must be exception classes"),
    ({"retry_on": []}, "retry_on must be exception classes"),
])
def test_policy_refuses_values_it_cannot_wait_for(kwargs, message):  # type: ignore[no-untyped-def]
    with pytest.raises(DefinitionError, match=message):
        make_retry_policy(retries=1, **kwargs)


@pytest.mark.parametrize(("maker", "kwargs", "message"), [
    (make_task, {"timeout": math.nan}, "timeout of task 'work'"),
    (make_task, {"timeout": math.inf}, "timeout of task 'work'"),
    (make_flow, {"timeout": math.nan}, "timeout of flow 'work'"),
    (make_task, {"retry_delay": math.inf}, "Task 'work': retry_delay must be seconds"),
    (make_flow, {"retry_delay": math.nan}, "Flow 'work': retry_delay must be seconds"),
    (make_asset, {"retry_delay": math.inf}, "Asset 'work': retry_delay must be seconds"),
    (make_asset, {"retries": -1}, "retries of asset 'work' must be a whole number"),
])
def test_decorators_name_the_bad_option(maker, kwargs, message):  # type: ignore[no-untyped-def]
    def work():  # type: ignore[no-untyped-def]
        return 1

    with pytest.raises(DefinitionError, match=message):
        maker(work, **kwargs)
