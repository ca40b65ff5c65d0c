"""Notifications to chat and webhook endpoints (Slack, Telegram, generic JSON webhooks) over httpx."""

from __future__ import annotations

from drydock.adapters.notify._webhooks import (
    ATTEMPTS,
    KINDS,
    TIMEOUT,
    Channel,
    Notifier,
    channels_from_env,
)

__all__ = ["ATTEMPTS", "KINDS", "TIMEOUT", "Channel", "Notifier", "channels_from_env"]
