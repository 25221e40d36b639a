"""Trace models built without validating again what enrichment already checked.

Validating a Trace, its Generation, Usage and Cost costs more than computing them. Where the
caller has checked that every value already has its field's type (so validation would keep it
as it is), :func:`assembled` stores the values as validation would; anything unusual goes
through the model's constructor instead, which stays the authority.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
SCALARS = frozenset({str, int, float, bool, type(None)})
"""Types validation keeps as they are in ``str | int | float | bool | None``."""


def assembled(model: type[M], values: dict[str, Any], given: frozenset[str]) -> M:
    """``model(**{k: values[k] for k in given})`` for checked values.

    ``values`` holds every field, in field order, defaults included; ``given`` the names the
    constructor call would pass (pydantic's ``model_fields_set``). The model must not allow
    extra fields. This is what ``BaseModel.model_construct`` stores.
    """
    instance = model.__new__(model)
    instance.__dict__.update(values)
    _set_fields_set(instance, set(given))
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


def counts(*values: Any) -> bool:
    """Every value a non-negative int or None: what ``Usage`` keeps as it is."""
    for value in values:
        if value is not None and (type(value) is not int or value < 0):
            return False
    return True


def amounts(*values: Any) -> bool:
    """Every value a non-negative float or None: what ``Cost`` keeps as it is."""
    for value in values:
        if value is not None and (type(value) is not float or not value >= 0):
            return False
    return True
