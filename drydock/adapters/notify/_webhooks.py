"""Notifications to a generic webhook, Telegram and Discord for fills, denials, breakers, stuck
positions and errors (httpx; secrets from the environment only).

Channels are configured by environment variables, so no token is ever in a file, a log or MLflow:
``DRYDOCK_NOTIFY_WEBHOOK_URL`` (JSON ``{"kind", "text", "detail"}``), ``DRYDOCK_TELEGRAM_BOT_TOKEN``
with ``DRYDOCK_TELEGRAM_CHAT_ID`` (Bot API ``sendMessage``), ``DRYDOCK_DISCORD_WEBHOOK_URL``
(``{"content"}``). Every text is passed through the log redaction first. A channel that fails
(after a short retry on 429/5xx and timeouts) is logged by name and never stops the runner.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from drydock.logs import get_logger, redact_text

log = get_logger(__name__)

KINDS = ("fill", "denial", "breaker", "stuck", "error", "state")
TIMEOUT = httpx.Timeout(5.0)
ATTEMPTS = 3


@dataclass(frozen=True)
class Channel:
    """One destination: a name for logs (never the URL) and how to build its request."""

    name: str
    url: str
    body: Any  # Callable[[str, str, Mapping], dict]


def _generic(kind: str, text: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "text": text, "detail": dict(detail)}


def channels_from_env(environ: Mapping[str, str] | None = None) -> list[Channel]:
    """The channels the environment configures (none: notifications are off)."""
    env = os.environ if environ is None else environ
    out = []
    if url := env.get("DRYDOCK_NOTIFY_WEBHOOK_URL"):
        out.append(Channel("webhook", url, _generic))
    token, chat = env.get("DRYDOCK_TELEGRAM_BOT_TOKEN"), env.get("DRYDOCK_TELEGRAM_CHAT_ID")
    if token and chat:
        out.append(Channel("telegram", f"https://api.telegram.org/bot{token}/sendMessage",
                           lambda _k, text, _d, chat=chat: {"chat_id": chat, "text": text}))  # fmt: skip
    if url := env.get("DRYDOCK_DISCORD_WEBHOOK_URL"):
        out.append(Channel("discord", url, lambda _k, text, _d: {"content": text[:2000]}))
    return out


@dataclass
class Notifier:
    """Sends one notice to every channel; failures are counted and logged, never raised."""

    channels: list[Channel] = field(default_factory=channels_from_env)
    client: httpx.Client | None = None
    sent: int = 0
    failed: int = 0

    def notify(self, kind: str, text: str, detail: Mapping[str, Any] | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"notice kind {kind!r} is not one of {', '.join(KINDS)}")
        if not self.channels:
            return
        clean = redact_text(f"[drydock {kind}] {text}")
        safe_detail = {k: redact_text(str(v)) for k, v in (detail or {}).items()}
        client = self.client or httpx.Client(timeout=TIMEOUT)
        try:
            for channel in self.channels:
                self._send(client, channel, kind, clean, safe_detail)
        finally:
            if self.client is None:
                client.close()

    def _send(self, client: httpx.Client, channel: Channel, kind: str, text: str,
              detail: Mapping[str, Any]) -> None:  # fmt: skip
        problem = ""
        for _ in range(ATTEMPTS):
            try:
                response = client.post(channel.url, json=channel.body(kind, text, detail))
            except httpx.TransportError as exc:
                problem = type(exc).__name__
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                continue
            if response.is_success:
                self.sent += 1
                return
            problem = f"HTTP {response.status_code}"
            break
        self.failed += 1
        log.warning("notify.failed", channel=channel.name, kind=kind, problem=problem)
