"""The value codec: exact round trips (property-tested), escaping of the tag key, and preview."""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbflow.core import codec

ZONES = [zoneinfo.ZoneInfo(z) for z in ("Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC")]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(),
    st.sampled_from([math.inf, -math.inf]), st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from(ZONES)),
    st.datetimes(timezones=st.timezones()),
    st.sampled_from([codec.TAG, "value", "tz", "fold"]),  # the codec's own words as data
)
keys = st.one_of(st.text(), st.sampled_from([codec.TAG, "value"]), st.integers(), st.dates(),
                 st.tuples(st.integers(), st.text()))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
        # dicts shaped like the codec's tags, whatever their contents
        st.fixed_dictionaries({codec.TAG: st.sampled_from(["date", "datetime", "float", "tuple",
                                                            "dict", "nope"]),
                               "value": inner}),
    ),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (and the same zone and fold for datetimes)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dt.datetime):
        return (a == b and a.replace(tzinfo=None) == b.replace(tzinfo=None) and a.fold == b.fold
                and a.utcoffset() == b.utcoffset() and str(a.tzinfo) == str(b.tzinfo))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) and same(k, kb)
                                          for k, kb in zip(a, b, strict=True))
    return bool(a == b)


@settings(max_examples=400, deadline=None)
@given(values)
def test_round_trip_is_exact(value: Any) -> None:
    text = codec.dumps(value)
    assert text.isascii()
    assert same(codec.loads(text), value)


@settings(max_examples=150, deadline=None)
@given(values)
def test_the_kernel_decoder_agrees_with_loads(value: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(codec.decoder_source("decode"), "<kernel>", "exec"), namespace)  # noqa: S102
    assert same(namespace["decode"](codec.dumps(value)), value)


@pytest.mark.parametrize("value", [
    {codec.TAG: "date", "value": "2026-01-31"},          # arrived as a date before
    {codec.TAG: "date", "value": "not a date"},          # failed the run before
    {codec.TAG: "float", "value": "inf"},
    {codec.TAG: "dict", "value": [["a", 1]]},
    {"a": {codec.TAG: "tuple", "value": [1, 2]}},
    {1: "int key", "1": "str key"},                       # json.dumps alone merges these
    (1, [2, (3,)]),
    dt.datetime(2026, 3, 29, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),  # in the DST gap
    dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),  # repeated hour
    dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
    float("nan"), -0.0, 2**80,
], ids=repr)
def test_cases_that_other_encoders_lose(value: Any) -> None:
    assert same(codec.loads(codec.dumps(value)), value)


@pytest.mark.parametrize("text", [
    '{"__nbflow_type__": "date", "value": "2026-02-30"}',
    '{"__nbflow_type__": "date"}',
    '{"__nbflow_type__": "martian", "value": 1}',
    '{"__nbflow_type__": "dict", "value": [[[1], 2]]}',   # a list cannot be a key
    '{"__nbflow_type__": "datetime", "value": "2026-01-01T00:00", "tz": "Not/AZone"}',
    '{"__nbflow_type__": "float", "value": "1e999x"}',
])
def test_malformed_tags_are_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="is not a value encoded by nbflow"):
        codec.loads(text)


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", [lambda: 1], {"k": 1j}])
def test_values_without_an_exact_form_are_refused(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot encode"):
        codec.dumps(value)


def test_output_is_stable_and_plain_json_where_possible() -> None:
    assert codec.dumps({"b": 1, "a": [True, None, "x"]}) == '{"b": 1, "a": [true, null, "x"]}'
    assert json.loads(codec.dumps({"d": dt.date(2026, 1, 1)})) == {
        "d": {codec.TAG: "date", "value": "2026-01-01"}}


PREVIEWS = {
    "dates as ISO text": ({"d": dt.date(2026, 1, 31), "t": dt.datetime(2026, 1, 31, 6)},
                          {"d": "2026-01-31", "t": "2026-01-31T06:00:00"}),
    "non-finite floats as text": ([math.nan, math.inf, -math.inf, 1.5], ["nan", "inf", "-inf", 1.5]),
    "tuples and sets as lists": ((1, frozenset({2})), [1, [2]]),
    "keys as text": ({1: "a", (2, 3): "b"}, {"1": "a", "(2, 3)": "b"}),
    "unknown objects as their text": ({"c": object}, {"c": str(object)}),
    "long strings cut": ("x" * 1500, "x" * codec.TEXT_LIMIT + "..."),
    "big containers shortened": (list(range(101)), str(list(range(101)))[:codec.OBJECT_LIMIT] + "..."),
    "deep containers shortened": ([[[[[1]]]]], [[[["[1]"]]]]),
    "the tag key is just a key": ({codec.TAG: "date", "value": "2026-01-31"},
                                  {codec.TAG: "date", "value": "2026-01-31"}),
}


@pytest.mark.parametrize(("value", "shown"), list(PREVIEWS.values()), ids=list(PREVIEWS))
def test_preview(value: Any, shown: Any) -> None:
    assert codec.preview(value) == shown
    json.dumps(codec.preview(value), allow_nan=False)  # always JSON-ready


def test_full_preview_keeps_every_string_item_and_level() -> None:
    value = {"s": "x" * 1500, "l": list(range(101)), "deep": [[[[[dt.date(2026, 1, 1)]]]]]}
    assert codec.preview(value, full=True) == {
        "s": "x" * 1500, "l": list(range(101)), "deep": [[[[["2026-01-01"]]]]]}
