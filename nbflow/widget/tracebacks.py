"""Tracebacks in the notebook's language: ``Cell In[8], line 3`` instead of a temporary file name.

The engine formats a failing step's traceback as text (it may come from a worker thread or
process). IPython knows which cache file holds which cell; frames of those files are shown the
way IPython shows its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FRAME = re.compile(r'^(\s*)File "([^"]+)", line (\d+)(, in .*)?$', re.MULTILINE)


def cell_numbers(shell: Any) -> Mapping[str, int]:
    """Cache file name -> execution count of the cell it holds, as IPython keeps it."""
    found = getattr(getattr(shell, "compile", None), "_filename_map", None)
    return found if isinstance(found, Mapping) else {}


def in_cells(text: str, numbers: Mapping[str, int]) -> str:
    """``text`` with each frame of a notebook cell written ``Cell In[n], line k``."""
    if not numbers or not text:
        return text

    def frame(m: re.Match[str]) -> str:
        n = numbers.get(m.group(2))
        if n is None:
            return m.group(0)
        where = m.group(4) or ""
        return f"{m.group(1)}Cell In[{n}], line {m.group(3)}{where}"

    return _FRAME.sub(frame, text)


__all__ = ["cell_numbers", "in_cells"]
