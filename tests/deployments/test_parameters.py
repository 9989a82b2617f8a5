"""Reading a notebook's parameters cell, parsing -p text and validating values."""

from __future__ import annotations

import base64
import datetime as dt
import json
import textwrap

import pytest

from nbflow.core import codec
from nbflow.deployments import parameters as P
from nbflow.errors import ParameterError


def _nb(*cells: tuple[str, list[str]]) -> dict:
    return {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "metadata": {"tags": tags}, "source": src,
                   "outputs": [], "execution_count": None} for src, tags in cells],
    }


CELL = """\
region = "EU"
limit = 10
ratio: float = 1
verbose = False
tags = ["a", "b"]
options = {"k": 1}
as_of: date = "2026-01-01"
when = datetime.datetime(2026, 1, 1, 6, 0)
day = date(2026, 2, 3)
maybe: str | None = None
anything = None
computed = len(tags)
%matplotlib inline
"""


@pytest.mark.parametrize("name,kind,default,optional", [
    ("region", "str", "EU", False),
    ("limit", "int", 10, False),
    ("ratio", "float", 1, False),
    ("verbose", "bool", False, False),
    ("tags", "list", ["a", "b"], False),
    ("options", "dict", {"k": 1}, False),
    ("as_of", "date", "2026-01-01", False),
    ("when", "datetime", dt.datetime(2026, 1, 1, 6, 0), False),
    ("day", "date", dt.date(2026, 2, 3), False),
    ("maybe", "str", None, True),
    ("anything", "any", None, True),
])
def test_read_parameters_types_from_annotations_else_defaults(name, kind, default, optional):
    params = {p.name: p for p in P.read_parameters(_nb(("import x", []), (CELL, ["parameters"])))}
    assert params[name].type == kind
    assert params[name].default == default
    assert params[name].optional is optional


def test_read_parameters_keeps_computed_defaults_as_expressions():
    params = {p.name: p for p in P.read_parameters(_nb((CELL, ["parameters"])))}
    assert params["computed"].type == "any"
    assert repr(params["computed"].default) == "<expression>"


def test_notebook_without_parameters_cell_has_none_and_refuses_values():
    nb = _nb(("x = 1", []))
    assert P.read_parameters(nb) is None
    assert P.validate_parameters(None, {}) == {}
    with pytest.raises(ParameterError, match="no cell tagged 'parameters'.*region"):
        P.validate_parameters(None, {"region": "EU"}, notebook="r.ipynb")


def test_broken_parameters_cell_is_reported_with_cell_index():
    with pytest.raises(ParameterError, match=r"cell 1\) is not valid Python"):
        P.read_parameters(_nb(("x = 1", []), ("x = (", ["parameters"])))


@pytest.mark.parametrize("text,error", [
    ("{not json", "cannot be read as a Jupyter notebook"),
    ('{"a": 1}', "is not a Jupyter notebook"),
])
def test_unreadable_notebooks(tmp_path, text, error):
    path = tmp_path / "x.ipynb"
    path.write_text(text)
    with pytest.raises(ParameterError, match=error):
        P.read_parameters(path)


def test_missing_notebook(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        P.read_parameters(tmp_path / "nope.ipynb")


DECLARED = P.read_parameters(_nb((CELL, ["parameters"])))
BY_NAME = {p.name: p for p in DECLARED}


@pytest.mark.parametrize("name,text,expected", [
    ("region", "US", "US"),
    ("region", "", ""),
    ("region", "a=b", "a=b"),
    ("region", " padded ", " padded "),
    ("limit", "42", 42),
    ("limit", "-3", -3),
    ("limit", "1_000", 1000),
    ("ratio", "2.5", 2.5),
    ("ratio", "3", 3.0),
    ("verbose", "true", True),
    ("verbose", "No", False),
    ("verbose", "1", True),
    ("tags", '["x", 1]', ["x", 1]),
    ("tags", "[]", []),
    ("options", '{"a": [1, 2]}', {"a": [1, 2]}),
    ("as_of", "2026-03-29", dt.date(2026, 3, 29)),
    ("when", "2026-03-29T02:30:00+01:00",
     dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))),
    ("maybe", "none", None),
    ("maybe", "text", "text"),
    ("anything", "[1, 2]", "[1, 2]"),  # untyped: papermill's -p rule, JSON stays text
    ("anything", "plain words", "plain words"),
    ("anything", "42", 42),
    ("anything", "none", "none"),
])
def test_parse_text_to_declared_type(name, text, expected):
    assert P.parse_text(BY_NAME[name], text) == expected
    assert type(P.parse_text(BY_NAME[name], text)) is type(expected)


@pytest.mark.parametrize("name,text", [
    ("limit", "ten"), ("limit", "1.5"), ("limit", ""), ("ratio", "fast"),
    ("verbose", "maybe"), ("tags", '{"a": 1}'), ("tags", "a,b"), ("options", "[1]"),
    ("as_of", "31/01/2026"), ("as_of", "2026-02-30"), ("when", "yesterday"),
])
def test_parse_text_wrong_type_names_parameter_type_and_value(name, text):
    with pytest.raises(ParameterError) as info:
        P.parse_text(BY_NAME[name], text)
    message = str(info.value)
    assert f"'{name}'" in message and BY_NAME[name].type in message and repr(text) in message
    assert info.value.parameter == name


@pytest.mark.parametrize("name,value,expected", [
    ("limit", 5, 5), ("ratio", 2, 2.0), ("tags", ("a",), ["a"]),
    ("as_of", dt.date(2026, 1, 2), dt.date(2026, 1, 2)), ("as_of", "2026-01-02", dt.date(2026, 1, 2)),
    ("verbose", True, True), ("maybe", None, None),
])
def test_coerce_python_values(name, value, expected):
    assert P.coerce_value(BY_NAME[name], value) == expected


@pytest.mark.parametrize("name,value", [
    ("limit", True), ("limit", 1.5), ("region", 3), ("verbose", 1), ("tags", {"a": 1}),
    ("as_of", dt.datetime(2026, 1, 1)), ("region", None), ("anything", object()),
])
def test_coerce_refuses_wrong_python_values(name, value):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        P.coerce_value(BY_NAME[name], value)


def test_unknown_parameter_lists_known_ones_and_suggests():
    with pytest.raises(ParameterError) as info:
        P.validate_parameters(DECLARED, {"regoin": "US"}, notebook="report.ipynb")
    message = str(info.value)
    assert "no parameter 'regoin'" in message and "Did you mean 'region'?" in message
    assert all(p.name in message for p in DECLARED)


@pytest.mark.parametrize("items,expected", [
    (["a=1"], {"a": "1"}),
    (["a=x=y", "b="], {"a": "x=y", "b": ""}),
    ([" a =1"], {"a": "1"}),
    ([], {}),
])
def test_parse_assignments(items, expected):
    assert P.parse_assignments(items) == expected


@pytest.mark.parametrize("item", ["novalue", "=3", "1a=2", "a b=1"])
def test_parse_assignments_refuses_malformed(item):
    with pytest.raises(ParameterError, match="name=value"):
        P.parse_assignments([item])


AWKWARD = [
    "it's \"quoted\"", "back\\slash\\", "new\nline\r\n", "{} {0} {name}", "'''", '"""',
    "ünïcødé ✓ 漢字 🚀", "'); import os; os.system('echo pwned') #", "\\x00\t", "",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_injected_source_round_trips_awkward_strings_without_pasting_them(value):
    values = {"s": value, "when": dt.date(2026, 1, 2), "nested": {"d": [dt.datetime(2026, 1, 1)]}}
    source = P.injected_source(values)
    assert value not in source or value == ""
    namespace: dict = {}
    exec(compile(source, "<injected>", "exec"), namespace)  # noqa: S102 - the point of the test
    assert namespace["s"] == value
    assert namespace["when"] == dt.date(2026, 1, 2)
    assert namespace["nested"] == {"d": [dt.datetime(2026, 1, 1)]}
    assert "_nbflow_parameters" not in namespace


def test_payload_is_plain_base64_json():
    payload = P.encode_values({"x": float("inf"), "d": dt.date(2026, 1, 1)})
    assert set(payload) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    decoded = json.loads(base64.b64decode(payload))
    assert decoded["d"] == {"__nbflow_type__": "date", "value": "2026-01-01"}
    assert codec.loads(base64.b64decode(payload).decode("ascii")) == {
        "x": float("inf"), "d": dt.date(2026, 1, 1)}


LOOKALIKES = [
    {"__nbflow_type__": "date", "value": "2026-01-31"},       # a well-formed tag, but user data
    {"__nbflow_type__": "date", "value": "not a date"},       # malformed: failed the run before
    {"__nbflow_type__": "nope"},
    {"outer": [{"__nbflow_type__": "float", "value": "inf"}]},
]


@pytest.mark.parametrize("value", LOOKALIKES)
def test_user_dicts_holding_the_tag_key_reach_the_kernel_unchanged(value):
    param = P.Parameter("options", "dict", {})
    checked = P.coerce_value(param, value)
    namespace: dict = {}
    exec(compile(P.injected_source({"options": checked}), "<injected>", "exec"), namespace)  # noqa: S102
    assert namespace["options"] == value and type(namespace["options"]) is dict


def test_the_kernel_decoder_is_the_codec_itself():
    source = P.injected_source({"n": 1})
    assert textwrap.indent(codec.decoder_source("loads"), "    ") in source
    assert "untag" not in source
