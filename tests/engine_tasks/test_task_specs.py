"""Task and flow specs: decorator validation, durations, and the retry policy's delays."""

from __future__ import annotations

import pytest

from nbflow.core.durations import parse_optional_duration as parse_seconds
from nbflow.core.tasks import RetryPolicy, make_flow, make_retry_policy, make_task
from nbflow.errors import DefinitionError


def work(x):  # type: ignore[no-untyped-def]
    return x


@pytest.mark.parametrize(("value", "seconds"), [
    (None, None), (0, 0.0), (90, 90.0), (1.5, 1.5), ("90", 90.0), ("30s", 30.0), ("5m", 300.0),
    ("1h", 3600.0), ("2d", 172800.0), ("1w", 604800.0), (" 1.5h ", 5400.0),
])
def test_parse_seconds(value, seconds):  # type: ignore[no-untyped-def]
    assert parse_seconds(value, what="x") == seconds


@pytest.mark.parametrize("value", ["1 hour", "h", "-5", -1, True, "1y"])
def test_parse_seconds_rejects(value):  # type: ignore[no-untyped-def]
    with pytest.raises(DefinitionError, match="cache_ttl"):
        parse_seconds(value, what="cache_ttl")


@pytest.mark.parametrize(("policy", "delays"), [
    (dict(retries=3, retry_delay=0), [0.0, 0.0, 0.0]),
    (dict(retries=3, retry_delay=1.0), [1.0, 1.0, 1.0]),
    (dict(retries=4, retry_delay=1.0, backoff=2.0), [1.0, 2.0, 4.0, 8.0]),
    (dict(retries=3, retry_delay=0.5, backoff=3.0), [0.5, 1.5, 4.5]),
    (dict(retries=4, retry_delay=[1, 5, 10]), [1.0, 5.0, 10.0, 10.0]),
    (dict(retries=2, retry_delay=[2, 3], backoff=10.0), [2.0, 3.0]),  # a list ignores backoff
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


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(retries=-1), "retries must be a whole number"),
    (dict(retries=1.5), "retries must be a whole number"),
    (dict(retry_delay=-1), "retry_delay must be seconds"),
    (dict(retry_delay=[]), "retry_delay must be seconds"),
    (dict(retry_delay=["1s"]), "retry_delay must be seconds"),
    (dict(backoff=0.5), "backoff must be a number >= 1.0"),
    (dict(jitter=2.0), "jitter must be a fraction"),
    (dict(retry_on=("ValueError",)), "retry_on must be exception classes"),
    (dict(cache="always"), "cache of task 'work' must be 'inputs'"),
    (dict(cache_ttl="1h"), "has cache_ttl but no cache policy"),
    (dict(cache="inputs", cache_ttl="soon"), "is not a duration"),
    (dict(timeout=0), "must be more than 0 seconds"),
    (dict(tags=("db", "")), "tags of task 'work' must be non-empty strings"),
])
def test_make_task_rejects_bad_arguments(kwargs, message):  # type: ignore[no-untyped-def]
    with pytest.raises(DefinitionError, match=message):
        make_task(work, **kwargs)


def test_make_task_builds_a_frozen_spec():  # type: ignore[no-untyped-def]
    spec = make_task(work, retries=2, retry_delay=[1, 2], retry_on=KeyError, cache="inputs",
                     cache_ttl="2h", tags="db", timeout="30s")
    assert (spec.name, spec.retry.retries, spec.retry.retry_delay, spec.retry.retry_on) == (
        "work", 2, (1, 2), (KeyError,))
    assert (spec.cache_ttl, spec.tags, spec.timeout, spec.persist) == (7200.0, ("db",), 30.0, True)
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("maker", [make_task, make_flow])
def test_lambdas_need_a_name(maker):  # type: ignore[no-untyped-def]
    with pytest.raises(DefinitionError, match="needs a name"):
        maker(lambda: 1)
    assert maker(lambda: 1, name="one").name == "one"


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(executor=""), "executor of flow"),
    (dict(max_workers=0), "max_workers of flow"),
    (dict(retries=-2), "retries must be"),
])
def test_make_flow_rejects_bad_arguments(kwargs, message):  # type: ignore[no-untyped-def]
    with pytest.raises(DefinitionError, match=message):
        make_flow(work, **kwargs)


@pytest.mark.parametrize("maker", [make_task, make_flow])
def test_async_functions_are_refused_with_the_way_out(maker):  # type: ignore[no-untyped-def]
    async def fetch():  # type: ignore[no-untyped-def]
        return 1

    with pytest.raises(DefinitionError, match="'fetch' is an async function.*asyncio.run"):
        maker(fetch)
