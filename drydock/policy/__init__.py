"""The shared policy engine: every order, in backtests and live, is decided here."""

from drydock.policy.config import Policy, load_policy, parse_policy
from drydock.policy.context import PolicyContext
from drydock.policy.engine import evaluate

__all__ = ["Policy", "PolicyContext", "evaluate", "load_policy", "parse_policy"]
