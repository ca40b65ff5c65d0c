"""Drydock kernel: settings, domain types, lake and warehouse access, metrics, policy engine, CLI."""

__version__ = "0.1.0"
