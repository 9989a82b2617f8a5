"""Task and flow specs: decorator validation and durations (the retry policy: tests/core/test_retry.py)."""

from __future__ import annotations

import pytest

from nbflow.core.durations import parse_optional_duration as parse_seconds
from nbflow.core.tasks import make_flow, make_task
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
