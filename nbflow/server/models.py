"""Pydantic models for the API: the views' TypedDicts turned into models, and request bodies.

Responses are typed by the very TypedDicts the views return (``model_of``), so the OpenAPI
schema cannot drift from the views; request bodies are declared here.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import is_typeddict

_models: dict[Any, type[BaseModel]] = {}


def model_of(td: Any) -> type[BaseModel]:
    """A pydantic model with the fields (and nested views) of the TypedDict ``td``."""
    if td not in _models:
        fields: dict[str, Any] = {name: (_convert(t), ...) for name, t in get_type_hints(td).items()}
        _models[td] = create_model(td.__name__, **fields)  # type: ignore[call-overload]
    return _models[td]


def _convert(t: Any) -> Any:
    if is_typeddict(t):
        return model_of(t)
    origin, args = get_origin(t), get_args(t)
    if origin is list:
        return list[_convert(args[0])]  # type: ignore[misc]
    if origin is dict:
        return dict[args[0], _convert(args[1])]  # type: ignore[misc,valid-type]
    if origin in (Union, types.UnionType):
        return typing.Union[tuple(_convert(a) for a in args)]  # noqa: UP007
    return t


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer: what went wrong, the field at fault and how to fix it."""

    error: str = Field(description="The error's class, e.g. ParameterError or NotFoundError.")
    message: str = Field(description="A whole sentence naming the thing and the fix.")
    field: str | None = Field(default=None, description="The request field at fault, if one is.")
    kind: str | None = None
    name: str | None = None
    suggestion: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class MaterializeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    selection: str = Field(default="*", description="A selection: orders+, group:sales, ...")
    force: bool = Field(default=False, description="Run fresh assets too instead of CACHED.")


class DeploymentIn(BaseModel):
    """A deployment's definition; leave a field out for its default."""

    model_config = ConfigDict(extra="forbid")
    notebook: str | None = Field(default=None, description="The notebook's path on the server "
                                 "(required to create; an update keeps the current one).")
    name: str | None = None
    cron: str | None = None
    tz: str | None = None
    every: str | None = None
    manual: bool = False
    parameters: dict[str, Any] = Field(default_factory=dict)
    catchup: Literal["none", "latest", "all"] = "latest"
    max_concurrency: int | None = Field(default=None, ge=1)
    retries: int = Field(default=0, ge=0)
    retry_delay: float = Field(default=10.0, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    kernel: str | None = None
    executor: str = "local"
    html: bool = False

    def options(self) -> dict[str, Any]:
        """The options ``deploy`` takes (the notebook apart), unset ones left out."""
        return {k: v for k, v in self.model_dump(exclude={"notebook"}).items()
                if v is not None and not (k == "manual" and v is False)}


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Overrides of the "
                                       "deployment's defaults, checked against its notebook.")


class Triggered(BaseModel):
    run_id: str


class LimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slots: int | None = Field(description="At most this many tasks with the tag run at once; "
                              "null removes the limit.", ge=1)


class Count(BaseModel):
    count: int


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "operator", "editor", "admin"]
    expires: str | None = Field(default=None, description="e.g. 30d; none: never expires.")


class TokenCreated(BaseModel):
    name: str
    role: str
    token: str = Field(description="Shown only in this answer; the store keeps its hash.")


__all__ = [
    "Count",
    "DeploymentIn",
    "ErrorBody",
    "Health",
    "LimitIn",
    "MaterializeIn",
    "TokenCreated",
    "TokenIn",
    "TriggerIn",
    "Triggered",
    "model_of",
]
