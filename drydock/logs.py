"""Structured logging, configured once: console for people, JSON lines for machines, secrets redacted.

``configure_logging()`` sets up structlog and routes the stdlib ``logging`` of third parties
(Dagster, ccxt, httpx) through the same redaction and renderer, all on stderr (stdout stays for
command output). ``get_logger(name)`` returns a lazy bound logger; callers log events with ids as
keys: ``log.info("backtest.finished", run_id=..., strategy=..., bars=...)``. Until
``configure_logging()`` runs, events still go to stderr as redacted JSON, never to stdout.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TextIO, TypeVar

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

T = TypeVar("T")

#: Replacement written wherever a secret was.
MASK = "***"
#: Environment values shorter than this are not treated as secrets (too likely to be common text).
MIN_SECRET_LENGTH = 8
#: Name fragments that mark an environment variable or an event key as secret (case-insensitive).
SECRET_NAME_PARTS = (
    "KEY",
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSPHRASE",
    "PRIVATE",
    "MNEMONIC",
    "SEED",
    "AUTH",
    "WEBHOOK",  # a webhook URL (Discord, Slack, a generic one) carries its token in the path
)
_SECRET_NAME = re.compile("|".join(SECRET_NAME_PARTS), re.IGNORECASE)
#: Event keys that match the name patterns but hold identifiers, not secrets (their values are
#: still scanned for environment secrets and secret shapes).
NOT_SECRET_KEYS = frozenset(
    {"idempotency_key", "partition_key", "asset_key", "series_key", "run_key", "sort_key"}
)
#: Event keys whose values are public hashes, exempt from the 0x-64-hex private-key shape.
HASH_KEYS = frozenset({"tx_hash", "txid", "transaction_hash", "block_hash", "hash", "policy_hash"})

_PRIVATE_KEY_HEX = re.compile(r"\b0x[0-9a-fA-F]{64}\b")
#: Known secret shapes, replaced wherever they appear (the replacement keeps any label).
SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"), MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), MASK),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"), MASK),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*"), r"\1 " + MASK),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        MASK,
    ),
    (
        re.compile(
            r"(?i)\b((?:api[_-]?)?key|secret|signature|token|passphrase|password)=[^&\s\"']+"
        ),
        r"\1=" + MASK,
    ),
    (re.compile(r"(://[^/\s:@]+):[^@\s/]+@"), r"\1:" + MASK + "@"),
)

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_FORMATS = ("auto", "console", "json")
_STRUCTLOG_KEYS = frozenset({"event", "level", "timestamp", "logger", "exception"})
#: Libraries that install their own stderr handler (bypassing redaction) unless told not to.
SELF_CONFIGURING_LOGGERS = {"mlflow": "MLFLOW_CONFIGURE_LOGGING"}


def is_secret_name(name: str) -> bool:
    """True if an environment variable or event key of this name holds a secret."""
    return bool(_SECRET_NAME.search(name)) and name.lower() not in NOT_SECRET_KEYS


def secret_env_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values (>= 8 characters) of environment variables whose names look secret, longest first."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if len(v) >= MIN_SECRET_LENGTH and is_secret_name(k)}
    return tuple(sorted(values, key=lambda v: (-len(v), v)))


@lru_cache(maxsize=8)
def _env_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(re.escape(v) for v in values)) if values else None


def redact_text(text: str, *, shapes: bool = True) -> str:
    """``text`` with every secret environment value and known secret shape replaced by ``***``."""
    pattern = _env_pattern(secret_env_values())
    if pattern is not None:
        text = pattern.sub(MASK, text)
    if shapes:
        text = _PRIVATE_KEY_HEX.sub(MASK, text)
    for shape, replacement in SECRET_SHAPES:
        text = shape.sub(replacement, text)
    return text


def redact(value: T) -> T:
    """A copy of ``value`` with secrets removed: strings scanned, secret-named mapping keys masked.

    Walks dicts, lists, tuples and sets; other scalars (numbers, NaN, None, dates) come back
    unchanged. Use it before writing anything user-visible: logs, MLflow params, reports, the app.
    """
    return _redact(value, None)  # type: ignore[no-any-return]


def _redact(value: Any, key: str | None) -> Any:
    if isinstance(value, str):
        return redact_text(value, shapes=key not in HASH_KEYS)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            name = str(k)
            secret = name not in _STRUCTLOG_KEYS and is_secret_name(name)
            out[redact_text(name) if isinstance(k, str) else k] = (
                MASK if secret and v not in (None, "") else _redact(v, name)
            )
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = [_redact(item, key) for item in value]
        return type(value)(items) if not isinstance(value, list) else items
    return value


def redact_processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact every value of the event (see :func:`redact`)."""
    for name, value in list(event_dict.items()):
        if name.startswith("_"):
            continue  # ProcessorFormatter's private _record / _from_structlog
        plain = value is None or isinstance(value, str | int | float | bool | Mapping)
        if not (plain or isinstance(value, list | tuple | set | frozenset)):
            value = str(value)  # objects render via str/repr: scan that text too
        cleaned = _redact({name: value}, None)
        event_dict[name] = cleaned[name]
    return event_dict


def _json_safe(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Non-finite floats as strings, so every JSON line is valid JSON."""
    return {k: _finite(v) for k, v in event_dict.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class _Sink:
    """Where rendered lines go: an explicit stream, else whatever ``sys.stderr`` is right now."""

    lock = threading.Lock()
    stream: TextIO | None = None

    @classmethod
    def write(cls, line: str) -> None:
        target = cls.stream or sys.stderr
        with cls.lock:
            target.write(line + "\n")
            target.flush()


class _SinkLogger:
    """The structlog output logger: writes each rendered (and re-redacted) line to the sink."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def msg(self, message: str) -> None:
        _Sink.write(redact_text(message, shapes=False))

    log = debug = info = warn = warning = error = critical = fatal = exception = msg


def _sink_logger_factory(*args: Any) -> _SinkLogger:
    return _SinkLogger(str(args[0]) if args else None)


def _add_logger_name(logger: WrappedLogger, _: str, event_dict: EventDict) -> EventDict:
    """``logger=<name given to get_logger>`` unless the event already names one."""
    name = getattr(logger, "name", None)
    if name is not None:
        event_dict.setdefault("logger", name)
    return event_dict


class _SinkHandler(logging.Handler):
    """stdlib handler writing formatted records to the sink (pytest's swapped stderr included)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _Sink.write(redact_text(self.format(record), shapes=False))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


def _renderer(fmt: str, colors: bool) -> list[Processor]:
    if fmt == "console":
        return [structlog.dev.ConsoleRenderer(colors=colors)]
    return [_json_safe, structlog.processors.JSONRenderer(default=str)]


def _resolve(fmt: str | None, level: str | None) -> tuple[str, int]:
    """Format and level from the arguments, else settings; bad values name the variable."""
    if fmt is None or level is None:
        from drydock.settings import get_settings  # lazy: keep `import drydock.logs` light

        settings = get_settings()
        fmt = fmt or settings.log_format
        level = level or settings.log_level
    fmt, level = fmt.strip().lower(), level.strip().lower()
    if fmt not in _FORMATS:
        raise ValueError(
            f"Unknown log format {fmt!r} (DRYDOCK_LOG_FORMAT); use one of {', '.join(_FORMATS)}."
        )
    if level not in _LEVELS:
        raise ValueError(
            f"Unknown log level {level!r} (DRYDOCK_LOG_LEVEL); use one of {', '.join(_LEVELS)}."
        )
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    return fmt, _LEVELS[level]


_PRE_CHAIN: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
_state: dict[str, Any] = {"key": None, "handler": None}
_config_lock = threading.Lock()


def _configure_structlog(fmt: str, level: int, colors: bool) -> None:
    structlog.configure(
        processors=[
            *_PRE_CHAIN,
            _add_logger_name,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_processor,
            *_renderer(fmt, colors),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_sink_logger_factory,
        cache_logger_on_first_use=False,
    )


def configure_logging(
    fmt: str | None = None, level: str | None = None, *, stream: TextIO | None = None
) -> None:
    """Configure structlog and stdlib logging for this process (idempotent).

    ``fmt`` is "console", "json" or "auto" (console on a TTY, else JSON) and ``level`` a level
    name; both default to the settings (DRYDOCK_LOG_FORMAT, DRYDOCK_LOG_LEVEL). Logs go to
    ``stream`` (default: the current stderr). A bare call once configured does nothing (entry
    points call it freely); explicit arguments that differ from the current setup reconfigure. Third-party loggers are shown from WARNING up unless the
    level is DEBUG.
    """
    if fmt is None and level is None and stream is None and is_configured():
        return  # entry points call this bare: the first configuration of the process wins
    resolved_fmt, resolved_level = _resolve(fmt, level)
    key = (resolved_fmt, resolved_level, id(stream))
    with _config_lock:
        if _state["key"] == key:
            return
        _Sink.stream = stream
        colors = resolved_fmt == "console" and stream is None and sys.stderr.isatty()
        _configure_structlog(resolved_fmt, resolved_level, colors)
        formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_PRE_CHAIN, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_processor,
                *_renderer(resolved_fmt, colors),
            ],
        )
        handler = _SinkHandler(level=resolved_level)
        handler.setFormatter(formatter)
        root = logging.getLogger()
        if _state["handler"] is not None:
            root.removeHandler(_state["handler"])
        root.addHandler(handler)
        _adopt_self_configuring_loggers()
        root.setLevel(
            resolved_level
            if resolved_level == logging.DEBUG
            else max(resolved_level, logging.WARNING)
        )
        _state.update(key=key, handler=handler)


def _adopt_self_configuring_loggers() -> None:
    """Make MLflow & co. log through the root handler (so through redaction), now and later."""
    for name, switch in SELF_CONFIGURING_LOGGERS.items():
        os.environ.setdefault(switch, "false")  # read when the library is first imported
        logger = logging.getLogger(name)
        if not logger.propagate:
            logger.handlers.clear()
            logger.propagate = True
            logger.setLevel(logging.NOTSET)


def is_configured() -> bool:
    """True once :func:`configure_logging` has run in this process."""
    return _state["key"] is not None


def get_logger(name: str, **context: Any) -> Any:
    """A structlog logger whose events carry ``logger=name`` and any extra context (lazy)."""
    return structlog.get_logger(name, **context)


def _safe_defaults() -> None:
    """Before configure_logging(): redacted JSON at INFO on stderr, never plain text on stdout."""
    if not structlog.is_configured():
        _configure_structlog("json", logging.INFO, colors=False)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse captured JSON log output (one object per line; other lines skipped) for tests/tools."""
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


_safe_defaults()

__all__ = [
    "MASK",
    "configure_logging",
    "get_logger",
    "is_configured",
    "is_secret_name",
    "json_lines",
    "redact",
    "redact_processor",
    "redact_text",
    "secret_env_values",
]
