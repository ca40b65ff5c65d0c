"""Parsing of repeated CLI options such as ``--param name=value``, shared by every command group."""

from __future__ import annotations

from drydock.errors import ConfigError


def parse_param_options(options: list[str] | None) -> dict[str, str]:
    """Turn ``["fast=12", "slow=26"]`` into a dict; a malformed item is a clear error."""
    parsed: dict[str, str] = {}
    for item in options or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(
                f"Malformed --param {item!r}: write it as name=value, e.g. --param fast=12."
            )
        name, value = name.strip(), value.strip()
        if name in parsed:
            raise ConfigError(f"--param {name} is given twice ({parsed[name]!r} and {value!r}).")
        parsed[name] = value
    return parsed
