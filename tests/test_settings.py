"""Settings: heartbeat values that would show live runs CRASHED are refused, naming the variable."""

from __future__ import annotations

import pytest

from nbflow.errors import SettingsError
from nbflow.settings import HEARTBEAT_MARGIN, Settings


@pytest.mark.parametrize(("env", "setting", "says"), [
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "3"}, "NBFLOW_HEARTBEAT_TIMEOUT", "at least 3 times"),
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "14.9"}, "NBFLOW_HEARTBEAT_TIMEOUT", "15 or more"),
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "-60"}, "NBFLOW_HEARTBEAT_TIMEOUT", "at least 3 times"),
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "nan"}, "NBFLOW_HEARTBEAT_TIMEOUT", "finite"),
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "inf"}, "NBFLOW_HEARTBEAT_TIMEOUT", "finite"),
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "soon"}, "NBFLOW_HEARTBEAT_TIMEOUT", "number of seconds"),
    ({"NBFLOW_HEARTBEAT_INTERVAL": "30"}, "NBFLOW_HEARTBEAT_INTERVAL", "90 or more"),
    ({"NBFLOW_HEARTBEAT_INTERVAL": "0"}, "NBFLOW_HEARTBEAT_INTERVAL", "positive"),
    ({"NBFLOW_HEARTBEAT_INTERVAL": "-1"}, "NBFLOW_HEARTBEAT_INTERVAL", "positive"),
    ({"NBFLOW_HEARTBEAT_INTERVAL": "10", "NBFLOW_HEARTBEAT_TIMEOUT": "20"}, "NBFLOW_HEARTBEAT_TIMEOUT",
     "30 or more"),
])
def test_unsafe_heartbeat_settings_are_refused(env: dict[str, str], setting: str, says: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.resolve(env)
    message = str(info.value)
    assert info.value.setting == setting and message.startswith(setting) and says in message
    assert "\n" not in message


@pytest.mark.parametrize(("env", "interval", "timeout"), [
    ({}, 5.0, 60.0),
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "15"}, 5.0, 15.0),
    ({"NBFLOW_HEARTBEAT_INTERVAL": "0.2", "NBFLOW_HEARTBEAT_TIMEOUT": "2"}, 0.2, 2.0),
    ({"NBFLOW_HEARTBEAT_INTERVAL": "20"}, 20.0, 60.0),
])
def test_safe_heartbeat_settings_are_kept(env: dict[str, str], interval: float, timeout: float) -> None:
    s = Settings.resolve(env)
    assert (s.heartbeat_interval, s.heartbeat_timeout) == (interval, timeout)
    assert s.heartbeat_timeout >= HEARTBEAT_MARGIN * s.heartbeat_interval


def test_arguments_are_checked_like_variables() -> None:
    with pytest.raises(SettingsError, match="NBFLOW_HEARTBEAT_TIMEOUT=3 "):
        Settings.resolve({}, heartbeat_timeout=3)
