"""Cache keys: stable hashes of inputs (plain, numpy, pandas, pickled), code versions, key functions."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from nbflow.core.tasks import make_task
from nbflow.engine.caching import cache_key, inputs_hash, stable_hash
from nbflow.errors import UnhashableInput


@dataclass
class Point:
    x: int
    y: int


SAME = [
    (1, 1), ("a", "a"), (b"xy", bytearray(b"xy")), ([1, [2, 3]], [1, [2, 3]]),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}), ({3, 1, 2}, {1, 2, 3}),
    (np.arange(5), np.arange(5)), (np.float32(1.5), np.float32(1.5)),
    (pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})),
    (pd.Series([1.0, 2.0], name="s"), pd.Series([1.0, 2.0], name="s")),
    (Point(1, 2), Point(1, 2)),
]

DIFFERENT = [
    (1, 1.0), (1, True), ("1", 1), (b"a", "a"), ([1, 2], (1, 2)), ([1, 2], [2, 1]),
    ({"a": 1}, {"a": 2}), (np.arange(5), np.arange(5, dtype=np.float64)),
    (np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2)),
    (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1, 3]})),
    (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"b": [1, 2]})),
    (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1, 2]}, index=[5, 6])),
    (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1.0, 2.0]})),
    (Point(1, 2), Point(2, 1)),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_equal_values_hash_equal(a, b):  # type: ignore[no-untyped-def]
    assert stable_hash(a) == stable_hash(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_values_hash_differently(a, b):  # type: ignore[no-untyped-def]
    assert stable_hash(a) != stable_hash(b)


def test_hash_is_stable_across_processes():  # type: ignore[no-untyped-def]
    # Sets of strings iterate in a per-process order (hash randomisation); the hash must not.
    code = ("from nbflow.engine.caching import stable_hash; import numpy as np; "
            "print(stable_hash([{'a', 'b', 'c', 'd'}, {'k': b'v'}, np.arange(3), 'text']))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(3)}
    assert len(outs) == 1
    assert outs == {stable_hash([{"a", "b", "c", "d"}, {"k": b"v"}, np.arange(3), "text"])}


@pytest.mark.parametrize("value", [
    (x for x in range(3)), threading.Lock(), lambda: 1, [1, (y for y in [])],
])
def test_unhashable_inputs_raise_naming_the_parameter(value):  # type: ignore[no-untyped-def]
    with pytest.raises(UnhashableInput, match="Argument 'data'") as info:
        inputs_hash({"data": value, "n": 1})
    assert info.value.parameter == "data"


def test_self_referencing_input_is_unhashable_not_a_crash():  # type: ignore[no-untyped-def]
    loop: list = []
    loop.append(loop)
    with pytest.raises(UnhashableInput):
        inputs_hash({"loop": loop})


FACTOR = 2


def scaled(x):  # type: ignore[no-untyped-def]
    return x * FACTOR


def test_inputs_policy_ignores_code_and_inputs_code_policy_sees_globals(monkeypatch):  # type: ignore[no-untyped-def]
    by_inputs = make_task(scaled, cache="inputs")
    by_code = make_task(scaled, cache="inputs+code")
    k_inputs, k_code = cache_key(by_inputs, {"x": 1}), cache_key(by_code, {"x": 1})
    assert k_inputs != k_code
    assert cache_key(by_inputs, {"x": 2}) != k_inputs
    monkeypatch.setitem(globals(), "FACTOR", 3)
    assert cache_key(by_inputs, {"x": 1}) == k_inputs
    assert cache_key(by_code, {"x": 1}) != k_code


def test_closure_values_take_part_in_the_code_version():  # type: ignore[no-untyped-def]
    def make(offset):  # type: ignore[no-untyped-def]
        def shifted(x):  # type: ignore[no-untyped-def]
            return x + offset
        return make_task(shifted, cache="inputs+code")

    assert cache_key(make(1), {"x": 1}) == cache_key(make(1), {"x": 1})
    assert cache_key(make(1), {"x": 1}) != cache_key(make(2), {"x": 1})


def test_source_change_changes_the_key():  # type: ignore[no-untyped-def]
    ns: dict = {}
    exec("def f(x):\n    return x + 1\n", ns)
    first = make_task(ns["f"], cache="inputs+code", source="def f(x):\n    return x + 1\n")
    second = make_task(ns["f"], cache="inputs+code", source="def f(x):\n    return x + 2\n")
    assert cache_key(first, {"x": 1}) != cache_key(second, {"x": 1})


@pytest.mark.parametrize(("key_fn", "same"), [
    (lambda args: "fixed", True),
    (lambda args: str(args["x"] % 2), True),      # 1 and 3 share a key
    (lambda args: args["x"], False),               # non-strings are hashed
])
def test_key_functions(key_fn, same):  # type: ignore[no-untyped-def]
    spec = make_task(scaled, cache=key_fn)
    assert (cache_key(spec, {"x": 1}) == cache_key(spec, {"x": 3})) is same


def test_key_function_returning_none_disables_the_cache_and_errors_are_clear():  # type: ignore[no-untyped-def]
    assert cache_key(make_task(scaled, cache=lambda a: None), {"x": 1}) is None
    with pytest.raises(UnhashableInput, match="cache key function of task 'scaled' raised KeyError"):
        cache_key(make_task(scaled, cache=lambda a: a["nope"]), {"x": 1})
