"""Binding a task call once: the fast binder agrees with ``Signature.bind``; futures resolve in both views."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from nbflow.core.states import State
from nbflow.core.tasks import make_task
from nbflow.engine.ports import CacheBackend, SlotBackend
from nbflow.engine.tasks import Binder
from nbflow.session.flows import flow
from nbflow.session.tasks import task
from tests.engine.conftest import MEMORY

STORES = MEMORY


def plain(a, b=2, *, c=3):  # type: ignore[no-untyped-def]
    return a


def required_kw(a, *, c):  # type: ignore[no-untyped-def]
    return a


def pos_only(a, /, b=1):  # type: ignore[no-untyped-def]
    return a


def variadic(a, *rest, k=0, **extra):  # type: ignore[no-untyped-def]
    return a


def nothing():  # type: ignore[no-untyped-def]
    return 1


CALLS = [
    (plain, (1,), {}),
    (plain, (1, 5), {}),
    (plain, (), {"a": 1}),
    (plain, (), {"c": 9, "a": 1}),  # keywords out of order
    (plain, (1,), {"c": 9, "b": 4}),
    (plain, (1, 2, 3), {}),  # too many positional
    (plain, (1,), {"a": 2}),  # a given twice
    (plain, (1,), {"zzz": 2}),  # unknown keyword
    (plain, (), {}),  # a missing
    (required_kw, (1,), {"c": 2}),
    (required_kw, (1,), {}),  # c missing
    (required_kw, (1, 2), {}),  # c is keyword-only
    (pos_only, (1,), {}),
    (pos_only, (), {"a": 1}),  # positional-only given by name
    (variadic, (1, 2, 3), {"k": 4, "x": 5}),
    (variadic, (1,), {}),
    (nothing, (), {}),
    (nothing, (1,), {}),
]


def signature_bind(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    return bound.arguments


@pytest.mark.parametrize(("fn", "args", "kwargs"), CALLS)
def test_the_binder_agrees_with_signature_bind(fn, args, kwargs) -> None:  # type: ignore[no-untyped-def]
    expected = signature_bind(fn, args, kwargs)
    got = Binder(make_task(fn)).arguments(args, dict(kwargs))
    assert got == expected
    if expected is not None:
        assert list(got) == list(expected)  # in parameter order, as the store shows them


def test_a_call_names_its_variadic_parameters() -> None:
    call = Binder(make_task(variadic)).bind((1, 2), {"x": 3})
    assert call.variadic == {"rest", "extra"}
    assert call.arguments == {"a": 1, "rest": (2,), "k": 0, "extra": {"x": 3}}


def test_futures_passed_through_variadic_parameters_reach_the_body_and_the_cache_key(session):  # type: ignore[no-untyped-def]
    seen = []

    @task
    def one(x):  # type: ignore[no-untyped-def]
        return x

    @task(cache="inputs")
    def total(*parts, **named):  # type: ignore[no-untyped-def]
        seen.append((parts, named))
        return sum(parts) + sum(named.values())

    @flow
    def f():  # type: ignore[no-untyped-def]
        first = total.submit(one.submit(1), [one.submit(2)][0], extra=one.submit(3)).result()
        again = total(1, 2, extra=3)  # the same values given plainly: a cache hit
        return first, again

    out = f(return_state=True)
    assert out.value == (6, 6)
    assert seen == [((1, 2), {"extra": 3})]
    run = session.get_run(out.run_id)
    assert [s.state for s in run.steps if s.name.startswith("total")] == [State.SUCCEEDED, State.CACHED]


def test_a_call_that_does_not_bind_fails_its_step_with_the_type_error(session):  # type: ignore[no-untyped-def]
    @task(cache="inputs")
    def needs_two(a, b):  # type: ignore[no-untyped-def]
        return a + b

    out = needs_two(1, return_state=True)
    assert out.state is State.FAILED and isinstance(out.error, TypeError)
    assert dict(session.get_run(out.run_id).parameters) == {}


@pytest.mark.parametrize("backend", ["nbflow.store.tasks:TaskTables", "nbflow.store.memory:MemoryTasks"])
@pytest.mark.parametrize("port", [CacheBackend, SlotBackend])
def test_the_store_task_tables_fit_the_engine_ports(backend: str, port: type) -> None:
    import importlib

    module, name = backend.split(":")
    cls = getattr(importlib.import_module(module), name)
    for method in [m for m in vars(port) if not m.startswith("_")]:
        wanted = inspect.signature(getattr(port, method)).parameters
        given = inspect.signature(getattr(cls, method)).parameters
        for p in wanted.values():
            assert p.name in given, (name, method, p.name)
            assert given[p.name].kind == p.kind, (name, method, p.name)
            assert (p.default is p.empty) or (given[p.name].default is not p.empty), (name, method, p.name)
        extra = [q for q in given.values() if q.name not in wanted]
        assert all(q.default is not q.empty for q in extra), (name, method, extra)
