"""Property test: no ALLOW ever breaks a configured hard limit, checked by an independent oracle.

The oracle below is written from the rules as documented (docs/policy.md), on the raw generated
data: it imports nothing from ``drydock.policy`` and calls no engine helper. The engine must agree
with it exactly, so an ALLOW that breaks a limit fails, and so does a DENY the rules do not call
for: 12,000 decisions in bulk (400 drawn policies x 30 seeded actions and contexts), about 19,000
more with each drawn limit alone in its own policy (so its boundary decides cases by itself), and
300 fully shrinking hypothesis cases. Malformed orders (NaN, inf, zero, negative, empty, padded,
look-alike, fullwidth or zero-width identifiers, a chain id of the wrong type, a missing side) must
be denied as ``system.malformed_action``: 4,500 decisions in bulk plus 200 shrinking cases.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.types import Action, Side, Verdict

# ~14 s of CPU: the property proof runs in `make test` (CI), not in the unit loop.
pytestmark = pytest.mark.integration

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "DOGE/USDT"]
VENUES = ["binance", "kraken", "okx"]
TOKENS = ["USDC", "USDT", "WETH"]
CHAINS = ["ethereum", "base", "solana"]
STRATEGIES = ["s1", "s2"]
NOW = datetime(2025, 6, 1, tzinfo=UTC)
BULK = 30  # cases per drawn policy in the bulk properties
SOLO = 10  # cases per single-limit policy
KINDS = ["order"] * 6 + ["swap", "transfer"]
PRICES = [1.0, 100.0, 2_500.0, 60_000.0]

finite = {"allow_nan": False, "allow_infinity": False}
cap = st.floats(min_value=1, max_value=2e5, **finite)
small_count = st.integers(0, 6)


def opt(draw: st.DrawFn, strategy: st.SearchStrategy[Any]) -> Any:
    """A limit set about one time in three (None: no limit), so allowed cases stay common.

    Rare outcomes test a middle value (hypothesis favours the ends of an integer range).
    """
    return draw(strategy) if draw(st.integers(0, 2)) == 1 else None


def cased(values: list[str]) -> st.SearchStrategy[str]:
    """One of ``values`` in canonical, lower or mixed case (all canonicalize to the same id)."""
    return st.sampled_from(values).flatmap(
        lambda v: st.sampled_from([v, v.lower(), v.upper(), v.title()])
    )


@st.composite
def policy_data(draw: st.DrawFn) -> dict[str, Any]:
    """A raw policy mapping within the schema (cross-field rules respected)."""
    order_cap, position_cap, min_order = opt(draw, cap), opt(draw, cap), opt(draw, cap)
    if order_cap is not None and position_cap is not None and order_cap > position_cap:
        order_cap, position_cap = position_cap, order_cap
    for upper in (order_cap, position_cap):
        if min_order is not None and upper is not None and min_order > upper:
            min_order = upper / 2
    min_position = opt(draw, st.floats(1, 2e4, **finite))
    if min_position is not None and position_cap is not None and min_position > position_cap:
        min_position = position_cap / 2
    grants = draw(
        st.lists(
            st.fixed_dictionaries(
                {"strategy": st.sampled_from(["*", *STRATEGIES])},
                optional={
                    "venues": st.lists(st.sampled_from(VENUES), unique=True, max_size=2),
                    "symbols": st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=3),
                    "max_notional_usd": st.floats(1, 2e5, **finite),
                    "expires_at": st.sampled_from(
                        [NOW - timedelta(days=1), NOW, NOW + timedelta(days=1)]
                    ),
                },
            ),
            max_size=2,
        )
    )
    data: dict[str, Any] = {
        "version": "prop",
        "system": {
            "kill_switch": draw(st.integers(0, 9)) == 5,
            "emergency_stop": draw(st.integers(0, 19)) == 13,
            "blocked_venues": draw(st.lists(cased(VENUES), unique_by=str.lower, max_size=1)),
            "blocked_symbols": draw(st.lists(cased(SYMBOLS), unique_by=str.upper, max_size=1)),
            "blocked_tokens": draw(st.lists(cased(TOKENS), unique_by=str.upper, max_size=1)),
            "allowed_chains": draw(
                st.none() | st.lists(cased(CHAINS), unique_by=str.lower, max_size=2)
            ),
        },
        "session": {"grants": grants},
        "risk": {
            "symbol_whitelist": draw(
                st.none() | st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=4)
            ),
            "min_order_notional_usd": min_order,
            "max_order_notional_usd": order_cap,
            "max_position_notional_usd": position_cap,
            "max_leverage": opt(draw, st.floats(1, 10, **finite)),
            "max_daily_trades": opt(draw, small_count),
            "max_concurrent_positions": opt(draw, small_count),
            "min_position_notional_usd": min_position,
            "max_concentration_pct": opt(draw, st.floats(1, 100, **finite)),
            "max_slippage_bps": opt(draw, st.floats(0, 300, **finite)),
            "max_fee_pct": opt(draw, st.floats(0, 2, **finite)),
        },
        "circuit_breakers": {
            "max_drawdown_pct": opt(draw, st.floats(0.5, 100, **finite)),
            "max_consecutive_losses": opt(draw, st.integers(1, 6)),
            "max_consecutive_failures": opt(draw, st.integers(1, 6)),
            "min_win_rate_pct": opt(draw, st.floats(1, 100, **finite)),
            "win_rate_window": opt(draw, st.integers(1, 6)),
        },
        "transaction": {
            "rolling_caps": opt(
                draw,
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "id": st.sampled_from(["c1", "c2"]),
                            "scope": st.sampled_from(["strategy", "total", "asset"]),
                            "max": cap,
                        }
                    ),
                    max_size=2,
                    unique_by=lambda c: c["id"],
                ),
            ),
        },
        "approvals": {"above_notional_usd": opt(draw, cap)},
    }
    data["risk"].update(
        max_daily_loss_usd=opt(draw, st.floats(1, 5e4, **finite)),
        max_daily_loss_pct=opt(draw, st.floats(0.5, 100, **finite)),
        max_risk_per_trade_pct=opt(draw, st.floats(0.1, 100, **finite)),
        cooldown_minutes=opt(draw, st.floats(1, 600, **finite)),
        max_orders_per_minute=opt(draw, st.integers(1, 6)),
    )
    for section in SECTIONS:  # omitted means "no limit"
        data[section] = {k: v for k, v in data[section].items() if v is not None}
    return data


#: Policy sections whose keys are limits (each tested alone in the solo property).
SECTIONS = ("system", "risk", "circuit_breakers", "transaction", "approvals")


@st.composite
def action_data(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed action: identifiers in any case, finite positive quantity and price."""
    return {
        "kind": draw(st.sampled_from(KINDS)),
        "venue": draw(cased(VENUES)),
        "symbol": draw(cased(SYMBOLS)),
        "side": draw(st.sampled_from([Side.BUY, Side.SELL])),
        "quantity": draw(st.floats(1e-3, 10, **finite)),
        "price": draw(st.sampled_from(PRICES)),
        "leverage": draw(st.floats(0.5, 12, **finite)),
        "strategy_id": draw(st.sampled_from(STRATEGIES)),
        "reduces_position": draw(st.integers(0, 3)) == 2,
        "token": draw(st.just("") | cased(TOKENS)),
        "chain": draw(st.just("") | cased(CHAINS)),
        "quoted_price": draw(st.just(0.0) | st.floats(0.5, 70_000, **finite)),
        "fee_usd": draw(st.just(0.0) | st.floats(0, 100, **finite)),
        "stop_price": draw(st.just(0.0) | st.floats(0.5, 70_000, **finite)),
    }


@st.composite
def context_data(draw: st.DrawFn) -> dict[str, Any]:
    """A finite account state; position keys in any case."""
    return {
        "now": draw(st.sampled_from([NOW, None])),
        "kill_file_present": draw(st.integers(0, 9)) == 5,
        "paused": draw(st.integers(0, 9)) == 5,
        "position_notional_usd": draw(
            st.dictionaries(cased(SYMBOLS), st.floats(-3e5, 3e5, **finite), max_size=3)
        ),
        "open_positions": draw(st.integers(0, 8)),
        "trades_today": draw(st.integers(0, 8)),
        "equity_usd": draw(st.floats(0, 1e6, **finite)),
        "equity_high_water_usd": draw(st.floats(0, 1e6, **finite)),
        "consecutive_losses": draw(st.integers(0, 8)),
        "consecutive_failures": draw(st.integers(0, 8)),
        "breaker_tripped": draw(st.integers(0, 9)) == 5,
        "daily_pnl_usd": draw(st.floats(-6e4, 6e4, **finite)),
        "day_start_equity_usd": draw(st.floats(0, 1e6, **finite)),
        "orders_last_minute": draw(st.integers(0, 8)),
        "last_close_at": draw(st.dictionaries(cased(SYMBOLS), st.sampled_from(CLOSES), max_size=2)),
        "recent_trade_wins": tuple(draw(st.lists(st.booleans(), max_size=8))),
        "rolling_usage": draw(
            st.dictionaries(st.sampled_from(USAGE_KEYS), st.floats(0, 2e5, **finite), max_size=3)
        ),
        "operator_approved": draw(st.booleans()),
    }


CLOSES = [NOW - timedelta(minutes=m) for m in (1, 30, 90, 600, 6000)]
#: (cap id, scope key) pairs the drawn caps can count under (strategy, total or base asset).
USAGE_KEYS = [
    (cap_id, key) for cap_id in ("c1", "c2") for key in (*STRATEGIES, "*", "BTC", "ETH", "SOL")
]


# Plain-``random`` twins of the two strategies above, for bulk cases under one drawn seed:
# hypothesis spends ~2 ms per drawn action here, the twins ~20 us, which is what lets 12,000
# decisions fit the ~20 s budget. A failure prints the exact action and context to pin as a test.


def _cased(rng: random.Random, values: list[str]) -> str:
    value = rng.choice(values)
    return rng.choice([value, value.lower(), value.upper(), value.title()])


def random_action(rng: random.Random) -> dict[str, Any]:
    """Same distribution as :func:`action_data` (quotes near the price, to hit the limit)."""
    price = rng.choice(PRICES)
    return {
        "kind": rng.choice(KINDS),
        "venue": _cased(rng, VENUES),
        "symbol": _cased(rng, SYMBOLS),
        "side": rng.choice([Side.BUY, Side.SELL]),
        "quantity": 10 ** rng.uniform(-3, 1),
        "price": price,
        "leverage": rng.choice([1.0, 1.0, 1.0, rng.uniform(0.5, 12)]),
        "strategy_id": rng.choice(STRATEGIES),
        "reduces_position": rng.random() < 0.25,
        "token": rng.choice(["", _cased(rng, TOKENS)]),
        "chain": rng.choice(["", _cased(rng, CHAINS)]),
        "quoted_price": rng.choice([0.0, price * rng.uniform(0.97, 1.03), price]),
        "fee_usd": rng.choice([0.0, rng.uniform(0, 100)]),
        "stop_price": rng.choice([0.0, price * rng.uniform(0.8, 1.2), price]),
    }


def random_context(rng: random.Random) -> dict[str, Any]:
    """Same distribution as :func:`context_data`, with round numbers now and then (boundaries)."""

    def money(low: float, high: float) -> float:
        return rng.choice([round(rng.uniform(low, high), -3), rng.uniform(low, high)])

    positions = {_cased(rng, SYMBOLS): money(-3e5, 3e5) for _ in range(rng.randint(0, 3))}
    equity = money(0, 1e6)
    return {
        "now": rng.choice([NOW, None]),
        "kill_file_present": rng.random() < 0.1,
        "paused": rng.random() < 0.1,
        "position_notional_usd": positions,
        "open_positions": rng.randint(0, 8),
        "trades_today": rng.randint(0, 8),
        "equity_usd": equity,
        "equity_high_water_usd": equity * rng.choice([0.5, 1.0, 1.0, 1.05, 1.5]),
        "consecutive_losses": rng.randint(0, 8),
        "consecutive_failures": rng.randint(0, 8),
        "breaker_tripped": rng.random() < 0.1,
        "daily_pnl_usd": money(-6e4, 6e4),
        "day_start_equity_usd": rng.choice([0.0, equity, money(0, 1e6)]),
        "orders_last_minute": rng.randint(0, 8),
        "last_close_at": {
            _cased(rng, SYMBOLS): rng.choice(CLOSES) for _ in range(rng.randint(0, 2))
        },
        "recent_trade_wins": tuple(rng.random() < 0.5 for _ in range(rng.randint(0, 8))),
        "rolling_usage": {rng.choice(USAGE_KEYS): money(0, 2e5) for _ in range(rng.randint(0, 3))},
        "operator_approved": rng.random() < 0.3,
    }


@dataclass
class Oracle:
    """The documented rules, restated on raw data. Returns the reasons an action must be denied."""

    policy: dict[str, Any]

    def reasons(self, a: dict[str, Any], c: dict[str, Any]) -> list[str]:
        system = self.policy.get("system", {})
        risk = self.policy.get("risk", {})
        breakers = self.policy.get("circuit_breakers", {})
        grants = self.policy["session"]["grants"]
        venue, symbol = a["venue"].lower(), a["symbol"].upper()
        token, chain = a["token"].upper(), a["chain"].lower()
        notional = a["quantity"] * a["price"]
        entry = not a["reduces_position"]
        out = []
        if a["kind"] != "order":
            out.append("only orders have rules")
        if system.get("emergency_stop"):
            out.append("emergency stop")
        if entry and (system.get("kill_switch") or c["kill_file_present"]):
            out.append("kill switch or kill file")
        if venue in [v.lower() for v in system.get("blocked_venues", [])]:
            out.append("blocked venue")
        if symbol in [s.upper() for s in system.get("blocked_symbols", [])]:
            out.append("blocked symbol")
        if token and token in [t.upper() for t in system.get("blocked_tokens", [])]:
            out.append("blocked token")
        chains = system.get("allowed_chains")
        if chain and chains is not None and chain not in [x.lower() for x in chains]:
            out.append("chain not allowed")
        if entry and c["paused"]:
            out.append("paused")
        if grants and not any(self._grant_ok(g, a, c, notional) for g in grants):
            out.append("no grant permits it")
        if entry:
            out.extend(self.rolling_reasons(a, c))
        held = sum(abs(v) for k, v in c["position_notional_usd"].items() if k.upper() == symbol)
        if not entry:
            if notional > held * (1 + 1e-9) + 1e-9:  # documented float tolerance for exits
                out.append("exit exceeds the position")
            return out
        whitelist = risk.get("symbol_whitelist")
        if whitelist is not None and symbol not in whitelist:
            out.append("not whitelisted")
        if "min_order_notional_usd" in risk and notional < risk["min_order_notional_usd"]:
            out.append("below min order")
        if "max_order_notional_usd" in risk and notional > risk["max_order_notional_usd"]:
            out.append("above max order")
        if (
            "max_position_notional_usd" in risk
            and held + notional > risk["max_position_notional_usd"]
        ):
            out.append("above max position")
        if "max_leverage" in risk and a["leverage"] > risk["max_leverage"]:
            out.append("above max leverage")
        if "max_daily_trades" in risk and c["trades_today"] >= risk["max_daily_trades"]:
            out.append("daily trades used up")
        if (
            "max_concurrent_positions" in risk
            and held == 0
            and c["open_positions"] >= risk["max_concurrent_positions"]
        ):
            out.append("too many open positions")
        after = held + notional
        if "min_position_notional_usd" in risk and after < risk["min_position_notional_usd"]:
            out.append("position under the floor")
        if "max_concentration_pct" in risk and (
            c["equity_usd"] <= 0 or after / c["equity_usd"] * 100.0 > risk["max_concentration_pct"]
        ):
            out.append("too concentrated")
        if "max_slippage_bps" in risk:
            quote = a["quoted_price"]
            worse = a["price"] - quote if a["side"] is Side.BUY else quote - a["price"]
            if quote <= 0 or worse / quote * 10_000.0 > risk["max_slippage_bps"]:
                out.append("no quote or slipped too far")
        if "max_fee_pct" in risk and a["fee_usd"] / notional * 100.0 > risk["max_fee_pct"]:
            out.append("fee too high")
        loss = max(0.0, -c["daily_pnl_usd"])
        if loss >= risk.get("max_daily_loss_usd", math.inf):
            out.append("daily loss (USD)")
        if "max_daily_loss_pct" in risk and (
            c["day_start_equity_usd"] <= 0
            or loss / c["day_start_equity_usd"] * 100.0 >= risk["max_daily_loss_pct"]
        ):
            out.append("daily loss (%)")
        if "max_risk_per_trade_pct" in risk:
            stop, price = a["stop_price"], a["price"]
            wrong = stop >= price if a["side"] is Side.BUY else stop <= price
            at_risk = a["quantity"] * abs(price - stop)
            if (
                stop <= 0
                or wrong
                or c["equity_usd"] <= 0
                or at_risk / c["equity_usd"] * 100.0 > risk["max_risk_per_trade_pct"]
            ):
                out.append("risk per trade")
        closes = [t for k, t in c["last_close_at"].items() if k.upper() == symbol]
        if "cooldown_minutes" in risk and closes:
            ready = max(closes) + timedelta(minutes=risk["cooldown_minutes"])  # merged keys: latest
            if c["now"] is None or c["now"] < ready:
                out.append("cooldown")
        if c["orders_last_minute"] >= risk.get("max_orders_per_minute", math.inf):
            out.append("order rate")
        if c["breaker_tripped"]:
            out.append("breaker latched")
        peak, equity = c["equity_high_water_usd"], c["equity_usd"]
        drawdown = max(0.0, (peak - equity) / peak * 100.0) if peak > 0 else 0.0
        if "max_drawdown_pct" in breakers and drawdown >= breakers["max_drawdown_pct"]:
            out.append("drawdown")
        if c["consecutive_losses"] >= breakers.get("max_consecutive_losses", math.inf):
            out.append("losing streak")
        if c["consecutive_failures"] >= breakers.get("max_consecutive_failures", math.inf):
            out.append("failure streak")
        window = breakers.get("win_rate_window", 20)
        recent = c["recent_trade_wins"][-window:]
        floor = breakers.get("min_win_rate_pct")
        if floor is not None and len(recent) >= window and sum(recent) / window * 100.0 < floor:
            out.append("win rate")
        return out

    def rolling_reasons(self, a: dict[str, Any], c: dict[str, Any]) -> list[str]:
        """Rolling caps (transaction layer, before risk): an entry spends its notional in USD."""
        notional = a["quantity"] * a["price"]
        out = []
        for cap in self.policy.get("transaction", {}).get("rolling_caps", []):
            key = {
                "strategy": a["strategy_id"],
                "total": "*",
                "asset": a["symbol"].upper().split("/")[0],
            }[cap["scope"]]
            if c["rolling_usage"].get((cap["id"], key), 0.0) + notional > cap["max"] * (1 + 1e-12):
                out.append(f"rolling cap {cap['id']}")
        return out

    def needs_approval(self, a: dict[str, Any], c: dict[str, Any]) -> bool:
        """An allowed entry above the approval threshold waits unless an operator approved it."""
        above = self.policy.get("approvals", {}).get("above_notional_usd")
        if above is None or c["operator_approved"] or a["reduces_position"]:
            return False
        return bool(a["quantity"] * a["price"] > above)

    @staticmethod
    def _grant_ok(g: dict[str, Any], a: dict[str, Any], c: dict[str, Any], notional: float) -> bool:
        if g["strategy"] not in ("*", a["strategy_id"]):
            return False
        if "expires_at" in g and (c["now"] is None or c["now"] >= g["expires_at"]):
            return False
        if a["kind"] != "order":  # grants default to actions = ["order"]
            return False
        if "venues" in g and a["venue"].lower() not in g["venues"]:
            return False
        if "symbols" in g and a["symbol"].upper() not in g["symbols"]:
            return False
        return not ("max_notional_usd" in g and notional > g["max_notional_usd"])


def check(policy: Policy, oracle: Oracle, a: dict[str, Any], c: dict[str, Any]) -> None:
    """The engine's verdict on ``a`` in ``c`` is the oracle's, and is stamped with the hash."""
    decision = evaluate(Action(**a), PolicyContext(**c), policy)
    reasons = oracle.reasons(a, c)
    if reasons:
        expected = Verdict.DENY
    elif oracle.needs_approval(a, c):
        expected = Verdict.NEEDS_APPROVAL
    else:
        expected = Verdict.ALLOW
    assert decision.verdict is expected, (decision.explain(), reasons, a, c)
    assert decision.policy_hash == policy.content_hash


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_data(), st.integers(0, 2**32 - 1))
def test_engine_agrees_with_the_oracle_in_bulk(data: dict[str, Any], seed: int) -> None:
    """400 policies x 30 actions and contexts = 12,000 decisions: an ALLOW never breaks a hard
    limit, and every DENY is one the oracle also calls for."""
    policy, oracle, rng = parse_policy(data), Oracle(data), random.Random(seed)
    for _ in range(BULK):
        check(policy, oracle, random_action(rng), random_context(rng))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_data(), st.integers(0, 2**32 - 1))
def test_each_limit_alone_agrees_with_the_oracle(data: dict[str, Any], seed: int) -> None:
    """Every limit of a drawn policy, alone in a policy of its own, over 10 cases each (~10
    limits per policy: ~20,000 decisions). Alone, a limit decides far more cases by itself, so
    its boundary is exercised (a combined policy denies most entries for several reasons)."""
    rng = random.Random(seed)
    for section in SECTIONS:
        for key, value in data[section].items():
            solo = {"version": "solo", "session": {"grants": []}, section: {key: value}}
            policy, oracle = parse_policy(solo), Oracle(solo)
            for _ in range(SOLO):
                check(policy, oracle, random_action(rng), random_context(rng))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_data(), action_data(), context_data())
def test_engine_agrees_with_the_oracle(
    data: dict[str, Any], a: dict[str, Any], c: dict[str, Any]
) -> None:
    """The same property fully under hypothesis (fewer cases, but counterexamples shrink)."""
    check(parse_policy(data), Oracle(data), a, c)


#: One corrupted field of an otherwise valid order; identifier templates wrap the valid value.
CORRUPTIONS: list[tuple[str, Any]] = [
    *[(f, bad) for f in ("quantity", "price") for bad in (math.nan, math.inf, -math.inf)],
    *[(f, bad) for f in ("quantity", "price") for bad in (0.0, -1.0, -1e-9, -5e4)],
    *[
        (f, bad)
        for f in ("symbol", "venue", "token")
        for bad in ("{} ", " {}", "{}\u200b", "\u200d{}", "{}\t", "{}\x00", "FULLWIDTH", "CYRILLIC")
    ],
    *[(f, bad) for f in ("symbol", "venue") for bad in ("", " ")],
    *[("chain", bad) for bad in (8453, 1.0, " base", "bas\u200be")],
    *[("leverage", bad) for bad in (math.nan, math.inf, 0.0, -2.0)],
    *[("side", bad) for bad in (None, "buy", "BUY")],
]


def corrupt(a: dict[str, Any], name: str, bad: Any) -> dict[str, Any]:
    """``a`` as an order with field ``name`` replaced by ``bad`` (templates filled in)."""
    if isinstance(bad, str) and name in ("symbol", "venue", "token"):
        valid = a[name] or "USDC"
        if bad == "FULLWIDTH":
            bad = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in valid)
        elif bad == "CYRILLIC":
            look = valid.upper().replace("T", "\u0422").replace("B", "\u0412")
            bad = look.replace("A", "\u0410") if look != valid.upper() else "\u0410" + valid
        else:
            bad = bad.format(valid)
    return {**a, "kind": "order", name: bad}


def check_malformed(policy: Policy, a: dict[str, Any], c: dict[str, Any]) -> None:
    decision = evaluate(Action(**a), PolicyContext(**c), policy)
    assert decision.verdict is Verdict.DENY
    assert "system.malformed_action" in [v.rule_id for v in decision.violations], a


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_data(), st.integers(0, 2**32 - 1))
def test_malformed_actions_are_denied_in_bulk(data: dict[str, Any], seed: int) -> None:
    """150 policies x 30 corrupted actions = 4,500 decisions, each denied as malformed."""
    policy, rng = parse_policy(data), random.Random(seed)
    for _ in range(BULK):
        name, bad = rng.choice(CORRUPTIONS)
        check_malformed(policy, corrupt(random_action(rng), name, bad), random_context(rng))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_data(), action_data(), st.sampled_from(CORRUPTIONS), context_data())
def test_malformed_actions_are_denied(
    data: dict[str, Any], a: dict[str, Any], bad: tuple[str, Any], c: dict[str, Any]
) -> None:
    check_malformed(parse_policy(data), corrupt(a, *bad), c)
