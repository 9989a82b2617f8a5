"""Hosts: tell whether a process recorded in the store (a scheduler, a slot holder) still lives."""

from __future__ import annotations

import functools
import os
import socket


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


@functools.cache
def this_host() -> str:
    """The name runs and slot holders record as their host (asked once per process)."""
    return socket.gethostname()
