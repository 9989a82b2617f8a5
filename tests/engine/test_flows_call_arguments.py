"""call_arguments: the validated parameters call the flow's function again, whatever its signature."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from nbflow.engine.flows import call_arguments


def f_plain(a, b=2): return (a, b)                                   # noqa: E704
def f_star(a, *rest): return (a, rest)                               # noqa: E704
def f_star_kw(a, b=0, *rest, c=1, **kw): return (a, b, rest, c, kw)  # noqa: E704
def f_posonly(a, /, b, *, c): return (a, b, c)                       # noqa: E704


@pytest.mark.parametrize(("fn", "args", "kwargs"), [
    (f_plain, (1,), {}),
    (f_plain, (1,), {"b": 5}),
    (f_star, (1, 2, 3), {}),
    (f_star, (1,), {}),
    (f_star_kw, (1, 2, 3, 4), {"c": 9, "x": 7}),
    (f_star_kw, (1,), {"x": 7}),
    (f_posonly, (1, 2), {"c": 3}),
])
def test_the_bound_parameters_call_the_function_again(fn: Any, args: tuple, kwargs: dict) -> None:
    sig = inspect.signature(fn)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    again_args, again_kwargs = call_arguments(sig, dict(bound.arguments))
    assert fn(*again_args, **again_kwargs) == fn(*args, **kwargs)
