"""Parameters against papermill itself as the oracle: its ``-p`` value rule, its CLI's parameter
options and its Python translator (what a kernel sees for a value passed from Python).

The cases come from papermill's own tests (``papermill/tests/test_cli.py``: ``test_resolve_type``,
``test_parameters*``, ``test_many_args``; ``test_translators.py``: ``test_translate_type_python``
and ``test_translate_codify_python``; ``test_parameterize.py``'s ``{'msg': 'Hello'}``), restated
here as data, plus nbflow's own table of awkward text. Every case asks papermill for its answer
at test time; only the ``DIFFERENCES`` below may disagree, and they must.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner
from papermill import cli as papermill_cli
from papermill.translators import PythonTranslator

from nbflow.cli.main import main
from nbflow.deployments import parameters as P
from nbflow.errors import ParameterError
from tests.deployments.conftest import write_notebook

UNTYPED = P.Parameter("x", "any", None, True)

# --- the -p value rule --------------------------------------------------------------------------

PAPERMILL_RESOLVE = ["True", "False", "None", "12.51", "10", "hello world", "😍"]
"""papermill's test_resolve_type inputs."""

NBFLOW_TEXT = [
    "42", "-7", "+3", " 42 ", "1_000", "007", "0x10", "1e3", "-0.0", ".5", "nan", "inf", "-inf",
    "Infinity", "١٢", "1,5", "true", "false", "null", "TRUE", "none", "NULL", "yes", "", " ",
    '"Hello"', "'Hello'", '{"foo": "bar"}', "[1, 2]", "2026-01-31", "a=b", "it's",
    "'); import os; os.system('echo pwned') #", "back\\slash", "new\nline",
]
"""Awkward text of our own: numbers papermill's casts accept or refuse, quoting, JSON, code."""

DIFFERENCES = {"true": True, "false": False, "null": None}
"""Deliberate: nbflow also reads JSON's lower-case literals; papermill keeps them as text."""

CASES = PAPERMILL_RESOLVE + NBFLOW_TEXT


def _same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("text", CASES)
def test_untyped_p_text_follows_papermill(text):
    ours = P.validate_parameters((UNTYPED,), {"x": P.Text(text)})["x"]
    theirs = papermill_cli._resolve_type(text)
    if text in DIFFERENCES:
        assert not _same(ours, theirs) and _same(ours, DIFFERENCES[text])
    else:
        assert _same(ours, theirs), (text, ours, theirs)


def test_resolve_text_agreement_count():
    agree = sum(_same(P.resolve_text(t), papermill_cli._resolve_type(t)) for t in CASES)
    assert (agree, len(CASES)) == (len(CASES) - len(DIFFERENCES), len(CASES))


# --- values from Python: what papermill's translator would make the kernel see ------------------

TRANSLATOR_VALUES = [
    "foo", '{"foo": "bar"}', {"foo": "bar"}, {"foo": '"bar"'}, {"foo": ["bar"]},
    {"foo": {"bar": "baz"}}, {"foo": {"bar": '"baz"'}}, ["foo"], ["foo", '"bar"'],
    [{"foo": "bar"}], [{"foo": '"bar"'}], 12345, -54321, 1.2345, -5432.1, float("nan"),
    float("-inf"), float("inf"), True, False, None,
    # test_parameterize's message and the quoted one, and text that looks like a number
    "Hello", '"Hello"', "42", "True", "None", "[1, 2]",
]

CODIFY = [
    {"foo": "bar"}, {"foo": True}, {"foo": 5}, {"foo": 1.1}, {"foo": ["bar", "baz"]},
    {"foo": {"bar": "baz"}}, OrderedDict([("foo", "bar"), ("baz", ["buz"])]),
]


def _kernel_sees(values: dict[str, Any]) -> dict[str, Any]:
    """Run nbflow's injected cell as the kernel would, and return the names it defines."""
    ns: dict[str, Any] = {}
    exec(compile(P.injected_source(values), "<injected>", "exec"), ns)  # noqa: S102
    return {k: ns[k] for k in values}


def _papermill_sees(values: dict[str, Any]) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    exec(PythonTranslator.codify(values), ns)  # noqa: S102 - papermill's generated cell
    return {k: ns[k] for k in values}


@pytest.mark.parametrize("value", TRANSLATOR_VALUES, ids=repr)
def test_a_python_value_arrives_exactly_as_papermill_delivers_it(value):
    checked = P.validate_parameters((UNTYPED,), {"x": value})
    ours = _kernel_sees(checked)["x"]
    theirs = _papermill_sees({"x": value})["x"]
    assert _same(ours, theirs) and _same(ours, value)


@pytest.mark.parametrize("values", CODIFY, ids=repr)
def test_a_parameter_set_arrives_as_papermill_delivers_it(values):
    declared = tuple(P.Parameter(k, "any", None, True) for k in values)
    ours = _kernel_sees(P.validate_parameters(declared, dict(values)))
    assert _same(ours, _papermill_sees(dict(values)))


# --- papermill's CLI parameter options against nbflow's deploy command ----------------------------

EXAMPLE_YAML = 'foo: 12345\nbar: "value"\nbaz:\n    k1: v1\n    k2: v2\na_date: 2019-01-01\n'
EXAMPLE_JSON = '{"foo":54321}'

CLI_CASES = {
    "parameters": ["-p", "foo", "bar", "--parameters", "baz", "42"],
    "parameters_raw": ["-r", "foo", "bar", "--parameters_raw", "baz", "42"],
    "parameters_file": ["-f", "{yaml}", "--parameters_file", "{json}"],
    "parameters_yaml": ["-y", '{"foo": "bar"}', "--parameters_yaml", '{"foo2": ["baz"]}'],
    "parameters_yaml_date": ["-y", "a_date: 2019-01-01"],
    "parameters_yaml_override": ["--parameters_yaml", '{"foo": "bar"}', "-y", '{"foo": ["baz"]}'],
    "many_args": ["-f", "{yaml}", "-y", '{"yaml_foo": {"yaml_bar": "yaml_baz"}}',
                  "-p", "baz", "replace", "-r", "foo", "54321"],
    # ours: the strings, which must stay text
    "quoted_and_json": ["-p", "msg", '"Hello"', "-p", "foo", '{"foo": "bar"}', "-p", "bar", "42"],
    "order_is_papermill_s": ["-r", "foo", "1", "-p", "foo", "2", "-y", "foo: 3"],
}
NAMES = ["foo", "bar", "baz", "foo2", "a_date", "yaml_foo", "msg"]


def _papermill_parameters(args: list[str]) -> dict[str, Any]:
    with mock.patch.object(papermill_cli, "execute_notebook") as execute:
        result = CliRunner().invoke(papermill_cli.papermill, ["in.ipynb", "out.ipynb", *args])
    assert result.exit_code == 0, result.output
    return dict(execute.call_args.kwargs["parameters"])


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", list(CLI_CASES))
def test_deploy_parameter_options_agree_with_papermill_s_cli(session, tmp_path, case):
    from nbflow.deployments.service import get_deployment

    (tmp_path / "example.yaml").write_text(EXAMPLE_YAML)
    (tmp_path / "example.json").write_text(EXAMPLE_JSON)
    files = {"{yaml}": str(tmp_path / "example.yaml"), "{json}": str(tmp_path / "example.json")}
    args = [files.get(a, a) for a in CLI_CASES[case]]
    nb = write_notebook(tmp_path / "untyped.ipynb",
                        [("\n".join(f"{n} = None" for n in NAMES), ["parameters"])])
    try:
        main(["deploy", str(nb), "--name", "oracle", "--manual", *args])
    except SystemExit as exc:
        assert exc.code == 0
    ours = dict(get_deployment("oracle").parameters)
    theirs = _papermill_parameters(args)
    assert _same(dict(sorted(ours.items())), dict(sorted(theirs.items()))), (ours, theirs)


# --- typed parameters keep nbflow's conversion -------------------------------------------------

TYPED = {p.name: p for p in P.read_parameters({"cells": [{
    "cell_type": "code", "metadata": {"tags": ["parameters"]},
    "source": "n: int = 0\nflag = False\nwords = 'x'\nmaybe: int | None = None\n"}]})}


@pytest.mark.parametrize("name,value,expected", [
    ("n", P.Text("42"), 42), ("n", "42", 42), ("n", 42, 42),
    ("flag", P.Text("yes"), True), ("flag", P.Text("true"), True),
    ("words", P.Text("42"), "42"), ("words", P.Text('"Hello"'), '"Hello"'),
    ("maybe", P.Text("none"), None), ("maybe", P.Text("7"), 7),
])
def test_typed_parameters_keep_nbflow_s_conversion(name, value, expected):
    assert _same(P.coerce_value(TYPED[name], value), expected)


@pytest.mark.parametrize("name,value", [("n", P.Text("ten")), ("n", "1.5"), ("flag", P.Text("maybe"))])
def test_typed_parameters_refuse_bad_text(name, value):
    with pytest.raises(ParameterError, match=f"'{name}' expects"):
        P.coerce_value(TYPED[name], value)

