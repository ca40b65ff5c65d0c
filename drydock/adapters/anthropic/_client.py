"""The Anthropic SDK client and one call shape: a forced tool call, its blocks and token usage.

Transient errors (429, 5xx, 529 overloaded, timeouts) are retried with backoff by the SDK itself
(``max_retries``). What is still failing after those retries, or never could succeed (no
connection, a refused key, a bad request), is raised as :class:`LlmUnavailable`, so a caller picks
its fallback by what happened, never by whether a key is set. The key comes only from
``ANTHROPIC_API_KEY`` (or an explicit argument) and is never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LlmUnavailable", "ToolAnswer", "anthropic_client", "ask_tool"]


class LlmUnavailable(Exception):
    """The model could not answer (connection, timeout, refused key, server error after retries);
    the message names the error class and status only, never the key or the prompt."""


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    """The inputs of every call of ``tool`` in the answer, and the tokens it cost."""

    inputs: list[Any]
    tokens: int


def anthropic_client(http_client: Any = None, api_key: str | None = None) -> Any:
    """The SDK client with the key from ``ANTHROPIC_API_KEY`` (or ``api_key``); retries with
    backoff on 429/5xx/overloaded are the SDK's. ``http_client`` is an ``httpx2.Client`` (the
    package this SDK version is built on), e.g. over a ``MockTransport`` in tests."""
    import anthropic

    key = api_key or os.environ.get("ANTHROPIC_API_KEY", "")
    kwargs: dict[str, Any] = {"api_key": key, "max_retries": 3}
    if http_client is not None:
        kwargs["http_client"] = http_client
    return anthropic.Anthropic(**kwargs)


def ask_tool(
    client: Any,
    *,
    model: str,
    system: str,
    tool: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    max_tokens: int = 4096,
) -> ToolAnswer:
    """One request forcing ``tool``; :class:`LlmUnavailable` when the API does not answer."""
    import anthropic

    try:
        response = client.messages.create(
            model=model, max_tokens=max_tokens, system=system, tools=[dict(tool)],
            tool_choice={"type": "tool", "name": tool["name"]}, messages=list(messages),
        )  # fmt: skip
    except anthropic.APIError as exc:  # connection, timeout, status errors after the SDK's retries
        status = getattr(exc, "status_code", None)
        detail = f" (HTTP {status})" if status else ""
        raise LlmUnavailable(f"{type(exc).__name__}{detail}") from exc
    used = int(response.usage.input_tokens) + int(response.usage.output_tokens)
    inputs = [
        block.input
        for block in response.content
        if getattr(block, "type", "") == "tool_use" and block.name == tool["name"]
    ]
    return ToolAnswer(inputs, used)
