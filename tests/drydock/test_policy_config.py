"""Policy files: validation errors name file, field and fix; the content hash is canonical."""

from __future__ import annotations

from pathlib import Path

import pytest

from drydock.errors import ConfigError
from drydock.policy import Policy, load_policy, parse_policy
from drydock.settings import REPO_ROOT

DEFAULT = REPO_ROOT / "policies" / "default.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_policy_loads() -> None:
    policy = load_policy(DEFAULT)
    assert policy.version
    assert policy.risk.max_leverage == 1
    assert "BTC/USDT" in (policy.risk.symbol_whitelist or [])
    assert policy.circuit_breakers.max_drawdown_pct == 25
    assert len(policy.content_hash) == 64


def test_hash_ignores_layout_but_not_rules(tmp_path: Path) -> None:
    a = write(tmp_path, 'version = "1"\n[risk]\nmax_leverage = 2\nmax_daily_trades = 3\n')
    b = tmp_path / "b.toml"
    b.write_text(
        '# other layout\nversion = "1"\n[risk]\nmax_daily_trades = 3\nmax_leverage = 2.0\n'
    )
    assert load_policy(a).content_hash == load_policy(b).content_hash
    c = write(tmp_path, 'version = "1"\n[risk]\nmax_leverage = 3\nmax_daily_trades = 3\n')
    assert load_policy(c).content_hash != load_policy(b).content_hash


def test_hash_covers_version_label() -> None:
    assert (
        parse_policy({"version": "1"}).content_hash != parse_policy({"version": "2"}).content_hash
    )


def test_hash_follows_copies_with_changes() -> None:
    policy = parse_policy({"version": "1"})
    before = policy.content_hash
    changed = policy.model_copy(update={"version": "2"})
    assert changed.content_hash != before == policy.content_hash


def test_symbols_and_venues_are_normalized() -> None:
    policy = parse_policy(
        {
            "version": "1",
            "system": {"blocked_venues": ["Binance "]},
            "risk": {"symbol_whitelist": ["btc/usdt"]},
        }
    )
    assert policy.system.blocked_venues == ["binance"]
    assert policy.risk.symbol_whitelist == ["BTC/USDT"]


def test_policy_is_immutable() -> None:
    policy = parse_policy({"version": "1"})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        policy.version = "2"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'version = "1"\n[risk]\nmax_levrage = 2\n',
            ["unknown field 'risk.max_levrage'", "'max_leverage'"],
        ),
        ('version = "1"\n[sytem]\n', ["unknown field 'sytem'", "Did you mean 'system'"]),
        ("[risk]\nmax_leverage = 2\n", ["missing required field 'version'"]),
        (
            'version = "1"\n[risk]\nmax_leverage = 0.5\n',
            ["'risk.max_leverage'", "greater than or equal to 1"],
        ),
        (
            'version = "1"\n[risk]\nmax_daily_trades = "many"\n',
            ["'risk.max_daily_trades'", "'many'"],
        ),
        (
            'version = "1"\n[circuit_breakers]\nmax_drawdown_pct = 150\n',
            ["'circuit_breakers.max_drawdown_pct'"],
        ),
        (
            'version = "1"\n[[session.grants]]\nstrategy = "x"\nexpires_at = 2025-01-01T00:00:00\n',
            ["'session.grants.0.expires_at'", "needs a timezone"],
        ),
        (
            'version = "1"\n[[session.grants]]\nstrategi = "x"\n',
            ["'session.grants.0.strategi'", "'strategy'"],
        ),
    ],
)
def test_validation_errors_name_file_field_and_fix(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1"):
        load_policy(write(tmp_path, "version = \n"))
    with pytest.raises(ConfigError, match=r"does not exist.*--policy"):
        load_policy(tmp_path / "nope.toml")


def test_empty_policy_has_no_limits() -> None:
    policy = Policy(version="x")
    assert policy.risk.max_order_notional_usd is None
    assert policy.session.grants == []
