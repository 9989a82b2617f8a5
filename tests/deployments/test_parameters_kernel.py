"""Parameters through a real kernel: ``nf.trigger`` hands values to the notebook exactly, whatever
keys they hold; the executed notebook shows their types and reprs."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path

import pytest

import nbflow as nf
from tests.deployments.conftest import write_notebook

pytestmark = [pytest.mark.kernel, pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)]

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
VALUES = {
    "lookalike": {"__nbflow_type__": "date", "value": "2026-01-31"},
    "malformed": {"__nbflow_type__": "date", "value": "not a date"},
    "unknown": {"__nbflow_type__": "nope", "nested": [{"__nbflow_type__": "float", "value": "inf"}]},
    "text": "42",
    "quoted": '"Hello"',
    "json_text": '{"foo": "bar"}',
    "day": dt.date(2026, 1, 31),
    "when": dt.datetime(2026, 3, 29, 3, 30, tzinfo=PARIS),
    "offset": dt.datetime(2026, 1, 31, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    "n": 3,
}

PROBE = """\
import json
print(json.dumps({k: [type(v).__name__, repr(v)] for k, v in
                  {k: globals()[k] for k in %r}.items()}))
""" % (list(VALUES),)


def test_trigger_delivers_values_exactly_to_the_kernel(session, tmp_path, kernel):
    params = "\n".join(f"{k} = None" for k in VALUES if k != "n") + "\nn: int = 0\n"
    nb = write_notebook(tmp_path / "exact.ipynb", [(params, ["parameters"]), (PROBE, [])])
    nf.deploy(nb, name="exact", manual=True, kernel=kernel)

    record = nf.trigger("exact", parameters=VALUES)

    assert record.state is nf.State.SUCCEEDED, record.error
    cells = json.loads(Path(record.output_path).read_text())["cells"]
    seen = json.loads("".join(cells[-1]["outputs"][0]["text"]))
    expected = {k: [type(v).__name__, repr(v)] for k, v in VALUES.items()}
    assert seen == expected
    assert seen["lookalike"][0] == "dict" and seen["text"] == ["str", "'42'"]
    assert seen["when"][1].endswith("tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))")


def test_typed_text_from_python_still_converts(session, tmp_path, kernel):
    nb = write_notebook(tmp_path / "typed.ipynb", [
        ("from datetime import date\nn: int = 0\nday: date = None\n", ["parameters"]),
        ("print(repr(n), repr(day))", [])])
    nf.deploy(nb, name="typed", manual=True, kernel=kernel)
    record = nf.trigger("typed", {"n": "7", "day": "2026-02-03"}, True)
    assert record.state is nf.State.SUCCEEDED, record.error
    cells = json.loads(Path(record.output_path).read_text())["cells"]
    assert "".join(cells[-1]["outputs"][0]["text"]).strip() == "7 datetime.date(2026, 2, 3)"
