"""Structured logging, configured once (interface stub; see issue 5 item 6).

``configure_logging()`` sets structlog up (console for people, JSON for machines, secrets
redacted); ``get_logger(name)`` returns a bound logger. Callers log events with ids as keys:
``log.info("backtest.finished", run_id=..., strategy=..., bars=...)``.
"""

from __future__ import annotations

from typing import Any

import structlog


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Configure structlog for this process (idempotent)."""


def get_logger(name: str, **context: Any) -> Any:
    """A structlog logger bound to ``logger=name`` and any extra context."""
    return structlog.get_logger(name).bind(logger=name, **context)
