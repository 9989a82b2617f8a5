"""Tables: small HTML-and-text tables for the magics' output (status, run results)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any


@dataclass(frozen=True)
class Table:
    """Rows under a header; shows as HTML in a notebook and as aligned text elsewhere."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""

    def __repr__(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
                  for i, h in enumerate(self.header)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
        out = [self.title] if self.title else []
        out += [line(self.header), line(["-" * w for w in widths])]
        out += [line(r) for r in self.rows]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{escape(c)}</td>" for c in r)
                       + "</tr>" for r in self.rows)
        title = f"<p><b>{escape(self.title)}</b></p>" if self.title else ""
        return f"{title}<table class='nbflow-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(getattr(value, "value", value))


def freshness_cell(state: Any) -> str:
    """An asset's ``FreshnessState`` as a cell: overdue since its deadline, or on time and the
    next deadline; "-" without a policy."""
    if state is None:
        return "-"
    deadline = "" if state.deadline is None else text(state.deadline)
    if state.overdue:
        return "overdue" + (f" since {deadline}" if deadline else "")
    return "on time" + (f", due {deadline}" if deadline else "")


def status_table(statuses: Sequence[Any]) -> Table:
    """``%nbflow status``: one row per asset; a freshness column when some asset has a policy
    (as ``nbflow status``), its reason beside the status's own."""
    policies = any(getattr(s, "freshness", None) is not None for s in statuses)
    rows = []
    for s in statuses:
        last = s.last
        reason = text(s.reason)
        late = getattr(s, "freshness", None)
        if late is not None and late.overdue and late.reason and late.reason != s.reason:
            reason = "; ".join(r for r in (reason, f"overdue: {late.reason}") if r)
        cells = (s.name, s.status, *((freshness_cell(late),) if policies else ()), reason,
                 text(last.ts if last else None), text(last.run_id if last else None))
        rows.append(cells)
    header = ("asset", "status", *(("freshness",) if policies else ()), "reason",
              "last materialised", "run")
    return Table(header, tuple(rows))


def result_table(result: Any) -> Table:
    """``%materialize``: one row per step of the run."""
    rows = []
    for name, state in result.states.items():
        err = result.errors.get(name, {}).get("message", "")
        rows.append((name, text(state), err.splitlines()[0] if err else ""))
    title = f"Run {result.run_id}: {text(result.state)} in {result.duration:.2f} s"
    return Table(("asset", "state", "error"), tuple(rows), title=title)


__all__ = ["Table", "freshness_cell", "result_table", "status_table"]
