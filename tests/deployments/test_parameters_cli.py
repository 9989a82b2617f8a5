"""Bad parameter options on the command line: one clean line naming the problem, exit 2."""

from __future__ import annotations

import pytest

from nbflow.cli.main import main


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("args,message", [
    (["-y", "[1, 2]"], "must be a YAML mapping of names to values"),
    (["-y", "{a: [1"], "are not valid YAML"),
    (["-f", "{missing}"], "cannot be read"),
    (["-p", "1a", "x"], "must be given as name=value"),
    (["-r", "nope", "x"], "has no parameter 'nope'"),
    (["-p", "n", "ten"], "Parameter 'n' expects an int"),
])
def test_bad_parameter_options_are_one_line(session, notebook, tmp_path, capsys, args, message):
    args = [a.replace("{missing}", str(tmp_path / "none.yaml")) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", str(notebook), "--manual", *args])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert message in err and "Traceback" not in out + err and len(err.strip().splitlines()) == 1
