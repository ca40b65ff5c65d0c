"""Building blocks every policy section shares: a strict base model and canonical-list validators.

Kept apart from :mod:`drydock.policy._config` so the chain-specific sections (EVM, Solana) can
subclass :class:`Section` without importing the whole policy document (and so without a cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from drydock.errors import DrydockError


class Section(BaseModel):
    """Strict, immutable base: unknown fields, numbers as strings, 1 for true and inf are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def canonical_list(canonical: Callable[[str], str]) -> Callable[[list[str] | None], Any]:
    """A validator that canonicalizes every item with a kernel function and refuses duplicates."""

    def validate(values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        out: list[str] = []
        for raw in values:
            try:
                item = canonical(raw)
            except DrydockError as exc:
                raise ValueError(str(exc)) from None
            if item in out:
                raise ValueError(f"{raw!r} is listed twice (as {item!r}); list it once")
            out.append(item)
        return out

    return validate


def canonical_one(canonical: Callable[[str], str]) -> Callable[[str], str]:
    """A validator that canonicalizes a single identifier with a kernel function."""

    def validate(value: str) -> str:
        try:
            return canonical(value)
        except DrydockError as exc:
            raise ValueError(str(exc)) from None

    return validate
