"""The ``@asset`` decorator and ``check``: the specs they build and the definitions they refuse."""

from __future__ import annotations

import re
from typing import Any

import pytest

from nbflow.core.registry import Registry, default_registry
from nbflow.core.specs import AssetSpec, CheckSpec, Param, asset, check, make_asset
from nbflow.errors import DefinitionError


def positive(value: Any) -> bool:
    return bool(value > 0)


def orders(raw_orders: list[int], limit: int = 10) -> list[int]:
    """Orders under the limit.

    More text.
    """
    return [o for o in raw_orders if o < limit]


SPEC_CASES = [
    # (decorator arguments, expected fields of the spec)
    ({}, {"name": "orders", "group": "default", "tags": {}, "deps": (), "io": "pickle",
          "code_version": None, "retries": 0, "kind": "function", "checks": (),
          "params": (Param("raw_orders", False), Param("limit", True)),
          "description": "Orders under the limit.\n\nMore text."}),
    ({"name": "clean_orders"}, {"name": "clean_orders"}),
    ({"group": "sales"}, {"group": "sales"}),
    ({"group": ""}, {"group": "default"}),
    ({"tags": {"owner": "sales"}}, {"tags": {"owner": "sales"}}),
    ({"metadata": {"rows": 3, "cols": ["a"]}}, {"metadata": {"rows": 3, "cols": ["a"]}}),
    ({"deps": ["a", "b"]}, {"deps": ("a", "b")}),
    ({"deps": "a, b ,c"}, {"deps": ("a", "b", "c")}),
    ({"deps": ("a",)}, {"deps": ("a",)}),
    ({"code_version": "2"}, {"code_version": "2"}),
    ({"code_version": 2}, {"code_version": "2"}),
    ({"io": "parquet"}, {"io": "parquet"}),
    ({"description": "Mine."}, {"description": "Mine."}),
    ({"retries": 3}, {"retries": 3}),
    ({"checks": [check(positive)]}, {"checks": (check(positive),)}),
]


def _fields(spec: AssetSpec, keys: list[str]) -> dict[str, Any]:
    out = {k: getattr(spec, k) for k in keys}
    if "checks" in out:  # CheckSpec compares by identity; compare what defines it
        out["checks"] = tuple((c.fn, c.name, c.severity) for c in out["checks"])
    if "tags" in out or "metadata" in out:
        out.update({k: dict(out[k]) for k in ("tags", "metadata") if k in out})
    return out


@pytest.mark.parametrize(("kwargs", "expected"), SPEC_CASES, ids=[re.sub(r" at 0x[0-9a-f]+", "", str(c[0])) for c in SPEC_CASES])
def test_asset_with_arguments(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    reg = Registry()
    spec = asset(registry=reg, **kwargs)(orders)
    assert isinstance(spec, AssetSpec)
    assert reg.get(spec.name) is spec
    want = dict(expected)
    if "checks" in want:
        want["checks"] = tuple((c.fn, c.name, c.severity) for c in want["checks"])
    assert _fields(spec, list(want)) == want


def test_bare_decorator_and_empty_call_agree() -> None:
    reg = Registry()
    bare = asset(orders, registry=reg)
    called = asset(registry=reg)(orders)
    assert bare.name == called.name == "orders"
    assert bare.params == called.params
    assert reg.get("orders") is called, "the later definition replaces the earlier one"
    assert len(reg) == 1


def test_spec_calls_its_function() -> None:
    spec = asset(orders, registry=Registry())
    assert spec([1, 20, 3], limit=5) == [1, 3]
    assert repr(spec) == "<asset 'orders'>"


def test_default_registry_is_used_without_registry() -> None:
    reg = default_registry()
    before = reg.get("nbflow_test_specs_default_asset")
    try:
        spec = asset(lambda: 1, name="nbflow_test_specs_default_asset")
        assert default_registry() is reg and reg.get(spec.name) is spec
    finally:
        reg.remove("nbflow_test_specs_default_asset")
    assert before is None


def test_deps_accept_assets() -> None:
    reg = Registry()
    raw = asset(lambda: 1, name="raw", registry=reg)
    spec = asset(lambda: 2, name="clean", deps=[raw, "raw"], registry=reg)
    assert spec.deps == ("raw", "raw")
    assert reg.graph().upstream["clean"] == ("raw",)


def _varargs(*rows: int) -> int:
    return len(rows)


def _varkw(**rows: int) -> int:
    return len(rows)


def _positional_only(raw: int, /) -> int:
    return raw


INVALID_CASES = [
    # (function, decorator arguments, fragments of the message)
    (5, {}, ["@asset needs a function, got int."]),
    (orders, {"name": "clean-orders"}, ["Asset name 'clean-orders' is not a Python identifier"]),
    (orders, {"name": "2024_orders"}, ["'2024_orders' is not a Python identifier"]),
    (orders, {"name": "not"}, ["Asset name 'not' is a Python keyword", "choose another name"]),
    (orders, {"tags": {"owner": 1}}, ["Tags of asset 'orders' must map strings to strings"]),
    (orders, {"retries": -1}, ["retries of asset 'orders' must be a whole number >= 0, got -1."]),
    (orders, {"retries": 1.5}, ["got 1.5"]),
    (orders, {"checks": [positive]}, ["checks of asset 'orders' must be made with nf.check(...)"]),
    (orders, {"deps": [3]}, ["deps of asset 'orders' must be asset names or assets, got 3."]),
    (_varargs, {}, ["Asset function '_varargs' takes *rows"]),
    (_varkw, {}, ["Asset function '_varkw' takes *rows"]),
    (_positional_only, {}, ["Asset function '_positional_only' takes 'raw' as positional-only",
                            "remove the '/'"]),
]


@pytest.mark.parametrize(("fn", "kwargs", "fragments"), INVALID_CASES,
                         ids=[f"case{i}" for i in range(len(INVALID_CASES))])
def test_invalid_definitions(fn: Any, kwargs: dict[str, Any], fragments: list[str]) -> None:
    reg = Registry()
    with pytest.raises(DefinitionError) as info:
        asset(fn, registry=reg, **kwargs)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert len(reg) == 0, "a refused definition is not registered"


CHECK_CASES = [
    # (check arguments, expected name, severity)
    ((positive,), {}, "positive", "error"),
    ((positive,), {"severity": "warn"}, "positive", "warn"),
    ((positive,), {"name": "gt_zero"}, "gt_zero", "error"),
    ((lambda v: v,), {"name": "identity"}, "identity", "error"),
]


@pytest.mark.parametrize(("args", "kwargs", "name", "severity"), CHECK_CASES,
                         ids=[f"case{i}" for i in range(len(CHECK_CASES))])
def test_check(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, severity: str) -> None:
    spec = check(*args, **kwargs)
    assert isinstance(spec, CheckSpec)
    assert (spec.name, spec.severity, spec.fn) == (name, severity, args[0])


@pytest.mark.parametrize(("args", "kwargs", "fragment"), [
    ((positive,), {"severity": "fatal"}, "Check severity 'fatal' is not one of warn, error"),
    ((lambda v: v,), {}, "A check made from a lambda needs a name"),
], ids=["severity", "lambda"])
def test_invalid_check(args: tuple[Any, ...], kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(DefinitionError, match=fragment):
        check(*args, **kwargs)


def test_make_asset_for_a_cell() -> None:
    def cell(raw: int) -> int:
        return raw

    spec = make_asset(cell, name="from_cell", source="raw + 1", kind="cell")
    assert (spec.name, spec.kind, spec.source) == ("from_cell", "cell", "raw + 1")
    assert spec.params == (Param("raw", False),)


@pytest.mark.parametrize(("kwargs", "kinds", "owners"), [
    ({}, (), ()),
    ({"kinds": ["python", "pandas", "python"]}, ("python", "pandas"), ()),
    ({"kinds": {"snowflake", "python"}}, ("python", "snowflake"), ()),
    ({"owners": ["ann@x.com", "team:sales"]}, (), ("ann@x.com", "team:sales")),
    ({"owners": ("bob@example.org",)}, (), ("bob@example.org",)),
], ids=["none", "kinds-list", "kinds-set", "owners", "owners-tuple"])
def test_kinds_and_owners(kwargs: dict[str, Any], kinds: tuple[str, ...], owners: tuple[str, ...]) -> None:
    spec = asset(lambda: 1, name="labelled", registry=Registry(), **kwargs)
    assert (spec.kinds, spec.owners) == (kinds, owners)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"kinds": "python"}, "kinds of asset 'bad' must be a list of strings such as ['python', 'pandas'], got 'python'"),
    ({"kinds": ["python", 3]}, "kinds of asset 'bad' must be non-empty strings"),
    ({"kinds": [" python"]}, "without surrounding spaces"),
    ({"kinds": [""]}, "must be non-empty strings"),
    ({"owners": "ann@x.com"}, "owners of asset 'bad' must be a list of strings"),
    ({"owners": ["ann"]}, ("Owner 'ann' of asset 'bad' is neither an email address nor a team; "
                           "write it as 'ann@example.com' or 'team:sales'.")),
    ({"owners": ["team:"]}, "Owner 'team:' of asset 'bad'"),
    ({"owners": ["a@b@c"]}, "Owner 'a@b@c'"),
    ({"owners": ["ann @x.com"]}, "Owner 'ann @x.com'"),
    ({"owners": ["team:data eng"]}, "Owner 'team:data eng'"),
], ids=["kinds-str", "kinds-int", "kinds-space", "kinds-empty", "owners-str", "owner-word",
        "owner-team-empty", "owner-two-at", "owner-space", "owner-team-space"])
def test_invalid_kinds_and_owners(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(DefinitionError) as info:
        make_asset(lambda: 1, name="bad", **kwargs)
    assert fragment in str(info.value)
