"""Regression tests reproducing, exactly, the probes that found defects in the foundation engine.

Issue 8, "Defects found by probing today's engine": raw string comparison, notional trusted from
the caller, NaN context inputs failing open, and config accepted silently.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from drydock.errors import ConfigError
from drydock.policy import Policy, PolicyContext, evaluate, load_policy, parse_policy
from drydock.types import Action, Side, Verdict


def policy(**sections: Any) -> Policy:
    return parse_policy({"version": "probe", **sections})


def order(
    symbol: str = "BTC/USDT", quantity: float = 1.0, price: float = 100.0, **kw: Any
) -> Action:
    fields: dict[str, Any] = dict(
        kind="order", venue="binance", symbol=symbol, side=Side.BUY, quantity=quantity,
        price=price, strategy_id="s",
    )  # fmt: skip
    fields.update(kw)
    return Action(**fields)


def denied_by(action: Action, ctx: PolicyContext, p: Policy) -> list[str]:
    decision = evaluate(action, ctx, p)
    assert decision.verdict is Verdict.DENY, decision.explain()
    return [v.rule_id for v in decision.violations]


# -- 1. identifiers compared raw against normalized config -------------------------------------


@pytest.mark.parametrize("symbol", ["BTC/USDT ", "BTC/USDT\u200b"])
def test_padded_or_zero_width_symbol_no_longer_slips_past_the_blocklist(symbol: str) -> None:
    p = policy(system={"blocked_symbols": ["BTC/USDT"]})
    assert denied_by(order(symbol), PolicyContext(), p) == ["system.malformed_action"]
    assert denied_by(order("BTC/USDT"), PolicyContext(), p) == ["system.blocked_symbol"]


def test_padded_venue_no_longer_slips_past_blocked_venues() -> None:
    p = policy(system={"blocked_venues": ["binance"]})
    assert denied_by(order(venue=" binance"), PolicyContext(), p) == ["system.malformed_action"]
    assert denied_by(order(venue="Binance"), PolicyContext(), p) == ["system.blocked_venue"]


def test_lower_case_token_is_blocked() -> None:
    p = policy(system={"blocked_tokens": ["USDC"]})
    action = order(token="usdc")
    assert action.token == "USDC"
    assert denied_by(action, PolicyContext(), p) == ["system.blocked_token"]


def test_padded_symbol_cannot_dodge_the_position_cap() -> None:
    """90k held, +50k as 'BTC/USDT ' passed a 100k cap; now malformed, and unpadded it is capped."""
    p = policy(risk={"max_position_notional_usd": 100_000})
    held = PolicyContext(position_notional_usd={"BTC/USDT": 90_000.0}, open_positions=1)
    padded = order("BTC/USDT ", quantity=1.0, price=50_000.0)
    assert denied_by(padded, held, p) == ["system.malformed_action"]
    plain = order("BTC/USDT", quantity=1.0, price=50_000.0)
    assert denied_by(plain, held, p) == ["risk.max_position_notional"]
    # The context's keys are canonicalized too: a lower-case key still counts as the position.
    lower = PolicyContext(position_notional_usd={"btc/usdt": 90_000.0}, open_positions=1)
    assert denied_by(plain, lower, p) == ["risk.max_position_notional"]


def test_lower_case_symbol_is_whitelisted_and_sent_upper_case() -> None:
    p = policy(risk={"symbol_whitelist": ["ETH/USDT"]})
    action = order("eth/usdt")
    assert action.symbol == "ETH/USDT"  # what the venue receives
    assert evaluate(action, PolicyContext(), p).allowed


@pytest.mark.parametrize(
    "symbol",
    [
        "B\u0422C/USDT",  # Cyrillic capital TE
        "\u0412TC/USDT",  # Cyrillic capital VE
        "\uff22\uff34\uff23/USDT",  # fullwidth
        "BTC/USD\u200dT",  # zero-width joiner
        "BTC/USDT\x00",
        "",
        " ",
    ],
)
def test_look_alike_and_invisible_symbols_are_malformed(symbol: str) -> None:
    assert denied_by(order(symbol), PolicyContext(), policy()) == ["system.malformed_action"]


# -- 2. notional trusted from the caller ---------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "price"),
    [(0.0, 100.0), (1.0, 0.0), (-1.0, -100.0), (-2.0, 50.0), (math.nan, 1.0), (1.0, math.inf)],
)
def test_orders_need_a_finite_positive_quantity_and_price(quantity: float, price: float) -> None:
    action = order(quantity=quantity, price=price)
    assert denied_by(action, PolicyContext(), policy()) == ["system.malformed_action"]
    assert "quantity" in action.malformed or "price" in action.malformed


def test_negative_quantity_times_negative_price_is_no_longer_a_positive_notional() -> None:
    action = order(quantity=-1.0, price=-100.0)
    assert action.notional_usd == 100.0  # the product looks fine...
    assert "quantity=-1.0" in action.malformed and "price=-100.0" in action.malformed  # ...not so


def test_empty_symbol_and_missing_side_are_malformed() -> None:
    assert denied_by(order(""), PolicyContext(), policy()) == ["system.malformed_action"]
    assert denied_by(order(side=None), PolicyContext(), policy()) == ["system.malformed_action"]


def test_an_underflowing_notional_is_malformed() -> None:
    action = order(quantity=1e-200, price=1e-200)
    assert action.notional_usd == 0.0
    assert denied_by(action, PolicyContext(), policy()) == ["system.malformed_action"]


def test_notional_is_derived_never_passed() -> None:
    assert order(quantity=2.0, price=50.0).notional_usd == 100.0
    with pytest.raises(TypeError):
        Action("order", "binance", notional_usd=1.0)  # type: ignore[call-arg]
    assert replace(order(), price=70.0).notional_usd == 70.0  # re-derived on copies


# -- 3. NaN in the context fails open ------------------------------------------------------------


def test_nan_held_notional_no_longer_disables_the_position_cap() -> None:
    p = policy(risk={"max_position_notional_usd": 100_000})
    nan_held = PolicyContext(position_notional_usd={"BTC/USDT": math.nan}, open_positions=1)
    rules = denied_by(order(price=50_000.0), nan_held, p)
    assert rules == ["system.malformed_context"]
    message = evaluate(order(price=50_000.0), nan_held, p).violations[0].message
    assert "position_notional_usd['BTC/USDT']=nan" in message


@pytest.mark.parametrize(
    ("equity", "peak", "field"),
    [(math.nan, 10_000.0, "equity_usd"), (5_000.0, math.nan, "equity_high_water_usd")],
)
def test_nan_equity_or_peak_no_longer_disables_the_drawdown_breaker(
    equity: float, peak: float, field: str
) -> None:
    p = policy(circuit_breakers={"max_drawdown_pct": 20})
    ctx = PolicyContext(equity_usd=equity, equity_high_water_usd=peak)
    assert denied_by(order(), ctx, p) == ["system.malformed_context"]
    assert field in evaluate(order(), ctx, p).violations[0].message


def test_trillion_dollar_exit_with_a_nan_position_is_denied() -> None:
    exit_ = order(quantity=1e7, price=1e5, side=Side.SELL, reduces_position=True)
    assert exit_.notional_usd == 1e12
    ctx = PolicyContext(position_notional_usd={"BTC/USDT": math.nan})
    assert denied_by(exit_, ctx, policy()) == ["system.malformed_context"]
    # and with a finite position it is an oversized exit
    held = PolicyContext(position_notional_usd={"BTC/USDT": 1_000.0})
    assert denied_by(exit_, held, policy()) == ["risk.reduce_exceeds_position"]


@pytest.mark.parametrize(
    "fields",
    [
        {"equity_usd": math.inf},
        {"equity_high_water_usd": -math.inf},
        {"position_notional_usd": {"BTC/USDT": math.inf}},
        {"position_notional_usd": {"not a symbol": 1.0}},
        {"trades_today": -1},
        {"open_positions": -3},
        {"consecutive_losses": 1.5},
        {"consecutive_failures": True},
    ],
)
def test_every_numeric_context_input_must_be_finite(fields: dict[str, Any]) -> None:
    ctx = PolicyContext(**fields)
    assert denied_by(order(), ctx, policy()) == ["system.malformed_context"]


def test_naive_clock_is_malformed_not_a_traceback() -> None:
    from datetime import datetime

    grant = {"strategy": "*", "expires_at": "2030-01-01T00:00:00Z"}
    p = policy(session={"grants": [grant]})
    ctx = PolicyContext(now=datetime(2025, 1, 1))  # naive: the probe
    assert denied_by(order(), ctx, p) == ["system.malformed_context"]


# -- 4. config accepted silently -----------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("[risk]\nmax_order_notional_usd = inf\n", ["risk.max_order_notional_usd", "finite"]),
        ("[risk]\nmax_position_notional_usd = nan\n", ["max_position_notional_usd", "finite"]),
        (
            "[risk]\nmin_order_notional_usd = 100\nmax_order_notional_usd = 10\n",
            ["min_order_notional_usd (100) is above max_order_notional_usd (10)"],
        ),
        (
            "[risk]\nmax_order_notional_usd = 50000\nmax_position_notional_usd = 10000\n",
            ["max_order_notional_usd (50000) is above max_position_notional_usd (10000)"],
        ),
        ('[system]\nkill_switch = "yes"\n', ["system.kill_switch", "boolean", "true/false"]),
        ("[system]\nkill_switch = 1\n", ["system.kill_switch", "boolean"]),
        ('[risk]\nmax_order_notional_usd = "5000"\n', ["max_order_notional_usd", "'5000'"]),
        ('[risk]\nmax_daily_trades = "3"\n', ["risk.max_daily_trades", "'3'"]),
        ('[risk]\nsymbol_whitelist = [""]\n', ["risk.symbol_whitelist", "it is empty"]),
        ('[system]\nblocked_venues = [" "]\n', ["system.blocked_venues", "it is empty"]),
        ('[system]\nblocked_tokens = ["US DC"]\n', ["system.blocked_tokens", "whitespace"]),
        (
            '[risk]\nsymbol_whitelist = ["BTC/USDT", "btc/usdt"]\n',
            ["risk.symbol_whitelist", "listed twice"],
        ),
        ('[[session.grants]]\nactions = ["swap"]\n', ["session.grants.0.actions", "'swap'"]),
        ('[[session.grants]]\nstrategy = ""\n', ["session.grants.0.strategy", "non-blank"]),
        ("[risk]\nmax_leverage = 2\nmax_levrage = 3\n", ["unknown field 'risk.max_levrage'"]),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, body: str, fragments: list[str]) -> None:
    path = write(tmp_path, 'version = "1"\n' + body)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "fix the value" in message or "remove or rename it" in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("version", ['""', '"   "', '" 1"'])
def test_blank_or_padded_version_is_refused(tmp_path: Path, version: str) -> None:
    with pytest.raises(ConfigError, match=r"field 'version'"):
        load_policy(write(tmp_path, f"version = {version}\n"))


def test_directory_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is a directory.*policies/default.toml"):
        load_policy(tmp_path)


def test_non_utf8_file_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('version = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml is not UTF-8 text \(byte 14.*UTF-8"):
        load_policy(path)


def test_non_utf8_path_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad\udcff.toml"  # an undecodable byte in the file name
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert "does not exist" in str(info.value) and "\\udcff" in str(info.value)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'version = "1"\n[risk]\nmax_leverage = = 2\n')
    with pytest.raises(ConfigError, match=r"p.toml is not valid TOML: .*line 3.*Fix the syntax"):
        load_policy(path)


def test_config_identifiers_are_canonical() -> None:
    p = policy(
        system={
            "blocked_venues": [" Binance"],
            "blocked_symbols": ["\uff22\uff34\uff23/usdt"],
            "blocked_tokens": ["usdc", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"],
            "allowed_chains": ["Base"],
        }
    )
    assert p.system.blocked_venues == ["binance"]
    assert p.system.blocked_symbols == ["BTC/USDT"]
    assert p.system.blocked_tokens == ["USDC", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"]
    assert p.system.allowed_chains == ["base"]


def test_content_hash_is_computed_once_at_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    p = policy(risk={"max_order_notional_usd": 10})
    expected = p.compute_hash()
    calls = 0

    def counting(self: Policy) -> str:
        nonlocal calls
        calls += 1
        return "x"

    monkeypatch.setattr(Policy, "compute_hash", counting)
    for _ in range(3):
        assert evaluate(order(), PolicyContext(), p).policy_hash == expected
    assert calls == 0


def test_copies_are_revalidated_and_rehashed() -> None:
    p = policy()
    changed = p.model_copy(update={"version": "2"})
    assert changed.content_hash == changed.compute_hash() != p.content_hash
    with pytest.raises(ValidationError, match="version"):
        p.model_copy(update={"version": " "})


def test_money_fields_of_an_action_are_keyword_only() -> None:
    # A positional 100.0 after the side once became the quantity of a test's order silently.
    with pytest.raises(TypeError):
        Action("order", "binance", "BTC/USDT", Side.BUY, 100.0)  # type: ignore[misc]
