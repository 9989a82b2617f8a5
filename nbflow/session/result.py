"""MaterializeResult: what ``materialize`` returns (states, errors, values by name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.core.states import OK, State
from nbflow.errors import NbflowError

if TYPE_CHECKING:
    from nbflow.session import Session


@dataclass
class MaterializeResult:
    run_id: str
    state: State
    states: dict[str, State]
    errors: dict[str, dict[str, str]]
    values: dict[str, Any] = field(repr=False, default_factory=dict)
    duration: float = 0.0
    session: Session | None = field(repr=False, default=None)

    @property
    def ok(self) -> bool:
        return self.state is State.SUCCEEDED

    def __getitem__(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        state = self.states.get(name)
        if state is None:
            raise KeyError(f"Asset {name!r} was not part of run {self.run_id}.")
        if state not in OK:
            msg = self.errors.get(name, {}).get("message", "")
            raise NbflowError(f"Asset {name!r} has no value in run {self.run_id}: it ended "
                              f"{state.value}" + (f" ({msg})" if msg else "") + ".")
        assert self.session is not None
        value = self.values[name] = self.session.load(name)
        return value

    def __contains__(self, name: object) -> bool:
        return name in self.states

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.states.values():
            counts[s.value] = counts.get(s.value, 0) + 1
        return counts
