"""``nbflow schedule preview``: fire times as ISO 8601 with offset; bad input is one line, exit 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nbflow.cli.main import cli, main


def run(*args: str) -> list[str]:
    result = CliRunner().invoke(cli, ["schedule", "preview", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


@pytest.mark.parametrize("args,lines", [
    (["0 6 * * *", "--tz", "Europe/Paris", "--from", "2026-03-28T12:00+00:00", "-n", "3"],
     ["2026-03-29T06:00:00+02:00", "2026-03-30T06:00:00+02:00", "2026-03-31T06:00:00+02:00"]),
    # a time skipped by the spring-forward change fires at the end of the gap
    (["15 3 * * *", "--tz", "Europe/Athens", "--from", "2026-03-29T00:00", "-n", "2"],
     ["2026-03-29T04:00:00+03:00", "2026-03-30T03:15:00+03:00"]),
    # hourly-or-finer fires through the repeated hour in real time
    (["*/30 * * * *", "--tz", "Europe/Athens", "--from", "2026-10-25T03:10+03:00", "-n", "4"],
     ["2026-10-25T03:30:00+03:00", "2026-10-25T03:00:00+02:00", "2026-10-25T03:30:00+02:00",
      "2026-10-25T04:00:00+02:00"]),
    (["15m", "--from", "2026-01-01T00:07:00+00:00", "-n", "2"],
     ["2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00"]),
    (["every 1h", "--from", "2026-01-01T00:00:00+00:00", "-n", "1"], ["2026-01-01T01:00:00+00:00"]),
    (["@daily", "--from", "2026-01-01T00:00:00+00:00", "-n", "1"], ["2026-01-02T00:00:00+00:00"]),
])
def test_preview_prints_fire_times(args, lines):
    assert run(*args) == lines


@pytest.mark.parametrize("args,message", [
    (["R R * * *"], "random field"),
    (["@reboot"], "'@reboot' is not supported"),
    (["0 6 * * *", "--tz", ""], "Time zone '' is empty"),
    (["0 6 * * *", "--tz", "A" * 300], "is unknown; use an IANA name"),
    (["0.0000001s"], "Interval must be at least 1 seconds"),
    (["99999999999999999999d"], "longer than 100 years"),
    (["0 6 * * *", "--from", "yesterday"], "not an ISO 8601 time"),
    (["61 * * * *"], "out of range"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["schedule", "preview", *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
