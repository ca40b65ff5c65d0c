"""Anthropic (Claude) through its SDK: the client, one forced-tool request, and the error that
says the model could not answer so callers fall back."""

from __future__ import annotations

from drydock.adapters.anthropic._client import (
    LlmUnavailable,
    ToolAnswer,
    anthropic_client,
    ask_tool,
)

__all__ = ["LlmUnavailable", "ToolAnswer", "anthropic_client", "ask_tool"]
