"""Route traces to several Litefuse projects (per environment, workspace, service, route, consumer).

Each destination gets its own traces topic, sink agent, batches and de-duplication window, so
one project's outage holds back only its own traces: the others keep flowing. The URL checks every
Litefuse URL gets (default and routes) live here too: `check_litefuse_url`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from pipeline.trace import Trace

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")


def is_loopback_host(host: str) -> bool:
    """The literal ``localhost``, an IPv4 address in 127.0.0.0/8 or ``::1``; nothing else.

    Parsed, never matched by prefix: ``127.attacker.example`` is a name anyone can point
    anywhere. Short or numeric IPv4 forms (``127.1``, ``2130706433``) are not addresses to
    ``ipaddress`` and so are not loopback here either.
    """
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address in _LOOPBACK_V4
    return address == _LOOPBACK_V6


def check_litefuse_url(url: str, *, allow_insecure_http: bool, setting: str) -> None:
    """Refuse ``http://`` to anything but loopback unless LANGFUSE_ALLOW_INSECURE_HTTP is set.

    The one check for every Litefuse URL (LANGFUSE_BASE_URL and each route's ``base_url``):
    over plain http the project keys travel in clear text. The host is read the way the sink's
    HTTP client (httpx) reads it, so the check and the connection agree on where it goes.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{setting} is not a valid URL: {exc}") from None
    if parsed.scheme == "http" and not allow_insecure_http and not is_loopback_host(parsed.host):
        raise ValueError(
            f"{setting} uses http:// to a non-loopback host ({parsed.host}): the keys would "
            "travel in clear text; use https:// or set LANGFUSE_ALLOW_INSECURE_HTTP=true"
        )


def url_without_userinfo(url: str) -> str:
    """The URL without ``user:password@``, for printing and logging."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


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
