"""Notifications through httpx MockTransport: the three channels' request formats, retries on
429/5xx, a failing channel never raises, and secrets (tokens in URLs, env values in text) never
reach a log or a message."""

from __future__ import annotations

import json

import httpx
import pytest

from drydock.adapters.notify import Notifier, channels_from_env
from drydock.logs import configure_logging

TOKEN = "123456:AAExampleTelegramBotTokenValue0001"
DISCORD = "https://discord.com/api/webhooks/42/DiscordSecretPathToken0123456789"
ENV = {
    "DRYDOCK_NOTIFY_WEBHOOK_URL": "https://hooks.example.test/drydock",
    "DRYDOCK_TELEGRAM_BOT_TOKEN": TOKEN,
    "DRYDOCK_TELEGRAM_CHAT_ID": "-1001",
    "DRYDOCK_DISCORD_WEBHOOK_URL": DISCORD,
}


def notifier(handler, monkeypatch: pytest.MonkeyPatch) -> Notifier:  # type: ignore[no-untyped-def]
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    return Notifier(channels_from_env(), httpx.Client(transport=httpx.MockTransport(handler)))


def test_each_channel_gets_its_documented_request(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), json.loads(request.content)))
        return httpx.Response(200, json={"ok": True})

    n = notifier(handler, monkeypatch)
    n.notify("fill", "BUY 0.1 BTC/USDT at 42,000", {"client_order_id": "dd01"})
    urls = [u for u, _ in seen]
    assert urls == [
        ENV["DRYDOCK_NOTIFY_WEBHOOK_URL"],
        f"https://api.telegram.org/bot{TOKEN}/sendMessage",
        DISCORD,
    ]
    assert seen[0][1] == {
        "kind": "fill",
        "text": "[drydock fill] BUY 0.1 BTC/USDT at 42,000",
        "detail": {"client_order_id": "dd01"},
    }
    assert seen[1][1] == {"chat_id": "-1001", "text": "[drydock fill] BUY 0.1 BTC/USDT at 42,000"}
    assert seen[2][1] == {"content": "[drydock fill] BUY 0.1 BTC/USDT at 42,000"}
    assert (n.sent, n.failed) == (3, 0)


def test_retries_then_gives_up_without_raising_or_leaking(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        calls[host] = calls.get(host, 0) + 1
        if host == "api.telegram.org":
            return httpx.Response(429) if calls[host] == 1 else httpx.Response(200)
        if host == "discord.com":
            raise httpx.ConnectTimeout("timed out", request=request)
        return httpx.Response(503)

    configure_logging("json", "INFO")
    n = notifier(handler, monkeypatch)
    n.notify("denial", f"order denied; token was {TOKEN}", {"why": f"url {DISCORD}"})
    assert calls == {"hooks.example.test": 3, "api.telegram.org": 2, "discord.com": 3}
    assert (n.sent, n.failed) == (1, 2)
    err = capsys.readouterr().err
    assert "notify.failed" in err and "discord" in err and "webhook" in err
    assert TOKEN not in err and "DiscordSecretPathToken" not in err


def test_texts_are_redacted_before_they_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content.decode())
        return httpx.Response(200)

    monkeypatch.setenv("DRYDOCK_BINANCE_API_SECRET", "binance-secret-value-9999")
    n = notifier(handler, monkeypatch)
    n.notify("error", "venue said: bad signature for binance-secret-value-9999", {"k": TOKEN})
    assert bodies and all("binance-secret-value-9999" not in b and TOKEN not in b for b in bodies)
    assert all("***" in b for b in bodies)


def test_no_channels_is_silent_and_unknown_kinds_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for k in ENV:
        monkeypatch.delenv(k, raising=False)
    n = Notifier()
    n.notify("fill", "nothing configured")
    assert (n.sent, n.failed) == (0, 0)
    with pytest.raises(ValueError, match="not one of fill"):
        n.notify("gossip", "x")
