"""TOML config files read and validated once, at load, through pydantic models: one reader and
one translation of a validation error into a :class:`ConfigError` naming the file, the entry, the
field, what is wrong and how to fix it. The series catalog, the watchlist and the feed list use it."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from drydock.errors import ConfigError

__all__ = ["COMMON_FIXES", "read_toml", "validated"]

M = TypeVar("M", bound=BaseModel)

#: Fixes for pydantic error types every file shares; ``{field}`` and ``{known}`` are filled in.
COMMON_FIXES = {
    "extra_forbidden": "remove it; known fields: {known}",
    "missing": "add it",
    "bool_type": "{field} must be true or false, written without quotes",
    "string_type": "write it as a quoted string",
    "list_type": 'write it as a list, e.g. ["a"]',
    "date_type": "write a bare TOML date without quotes, e.g. 2024-01-01",
}


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed TOML of ``path``; a :class:`ConfigError` naming ``what`` and the problem."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} cannot be read ({exc}); fix the TOML.") from None


def validated(model: type[M], raw: Any, where: str, fixes: Mapping[str, str] | None = None) -> M:
    """``raw`` as ``model``; its first problem as one :class:`ConfigError` sentence:
    ``<where>, field '<field>': <what is wrong>; <how to fix it>.``"""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not a table; write it as a [[...]] table of key = value.")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "entry"
        message = str(error["msg"]).removeprefix("Value error, ")
        fix = {**COMMON_FIXES, **(fixes or {})}.get(error["type"])
        known = ", ".join(model.model_fields)
        detail = f"{message}; {fix.format(field=field, known=known)}" if fix else message
        raise ConfigError(f"{where}, field '{field}': {detail}.") from None
