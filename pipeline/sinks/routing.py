"""Route traces to several Litefuse projects (per environment, workspace, service, route, consumer).

Each destination gets its own traces topic, sink agent, batches and de-duplication window, so
one project's outage holds back only its own traces: the others keep flowing.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from pipeline.trace import Trace

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _field(trace: Trace, name: str) -> object:
    """The trace's value for a match field (Kong names live in the trace metadata)."""
    return trace.environment if name == "environment" else trace.metadata.get(f"kong_{name}")


_MATCH_FIELDS = ("environment", "workspace", "service", "route", "consumer")


class RouteMatch(BaseModel):
    """All given fields must match; a field's value may be one name or a list of names."""

    model_config = ConfigDict(extra="forbid")

    environment: str | list[str] | None = None
    workspace: str | list[str] | None = None
    service: str | list[str] | None = None
    route: str | list[str] | None = None
    consumer: str | list[str] | None = None

    def matches(self, trace: Trace) -> bool:
        for name in _MATCH_FIELDS:
            wanted = getattr(self, name)
            if wanted is None:
                continue
            actual = _field(trace, name)
            allowed = [wanted] if isinstance(wanted, str) else wanted
            if actual not in allowed:
                return False
        return True


class LitefuseRoute(BaseModel):
    """One destination project. Keys come inline (config file) or from named env variables."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Lower-case id; names the destination's topic and metrics.")
    match: RouteMatch
    base_url: str
    public_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    public_key_env: str | None = None
    secret_key_env: str | None = None
    ingestion: Literal["otel", "legacy"] = "otel"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value) or value == "default":
            raise ValueError("route names are lower-case letters, digits, - and _ (not 'default')")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _keys(self) -> LitefuseRoute:
        for kind in ("public", "secret"):
            env_name = getattr(self, f"{kind}_key_env")
            if getattr(self, f"{kind}_key") is None and env_name:
                value = os.environ.get(env_name)
                if not value:
                    raise ValueError(f"route {self.name}: {env_name} is not set")
                setattr(self, f"{kind}_key", SecretStr(value))
            if getattr(self, f"{kind}_key") is None:
                raise ValueError(f"route {self.name}: {kind}_key or {kind}_key_env is needed")
        return self

    def keys(self) -> tuple[str, str]:
        assert self.public_key is not None and self.secret_key is not None
        return self.public_key.get_secret_value(), self.secret_key.get_secret_value()


def route_for(trace: Trace, routes: list[LitefuseRoute]) -> LitefuseRoute | None:
    """The first route whose match holds, or None for the default destination."""
    return next((route for route in routes if route.match.matches(trace)), None)


def route_topic(traces_topic: str, route: LitefuseRoute | None) -> str:
    return traces_topic if route is None else f"{traces_topic}.{route.name}"
