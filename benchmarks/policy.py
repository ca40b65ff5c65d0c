"""Policy engine figures: evaluations per second and p99 latency on one core.

A realistic book (:data:`BOOK`: switches, blocklists, two scoped grants, transfer allowlist and
caps, two rolling 24h caps, whitelist, order and position caps, leverage, trade and position
counts, slippage, daily loss, risk per trade, cooldown, order rate, four breakers, approvals;
30+ effective rules) decides a fixed, seeded mix of allowed and denied orders, exits and
transfers (one in ten). The baseline is the foundation engine's
cost model: the same evaluation plus ``Policy.compute_hash()`` on every call, since the foundation
rebuilt the content hash from canonical JSON per decision (issue 8 measured 43k evals/s for it).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from benchmarks.harness import Figure
from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.types import Action, PolicyDecision, Side

NOW = datetime(2025, 6, 1, tzinfo=UTC)
TREASURY = "0x" + "7e" * 20
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "DOGE/USDT"]
BOOK: dict[str, object] = {
    "version": "bench",
    "name": "spot book",
    "system": {
        "kill_switch": False,
        "emergency_stop": False,
        "blocked_venues": ["ftx"],
        "blocked_symbols": ["LUNA/USDT"],
        "blocked_tokens": ["UST"],
    },
    "session": {
        "grants": [
            {
                "strategy": "ema_cross",
                "venues": ["binance", "kraken"],
                "symbols": ["BTC/USDT", "ETH/USDT", "SOL/USDT"],
                "max_notional_usd": 40_000,
                "expires_at": datetime(2030, 1, 1, tzinfo=UTC),
            },
            {"strategy": "*", "venues": ["binance"], "max_notional_usd": 5_000},
            {"strategy": "treasury", "actions": ["transfer"], "max_notional_usd": 50_000},
        ]
    },
    "transaction": {
        "transfers": {"destination_allowlist": [TREASURY], "max_amount": {"USDC": 20_000}},
        "rolling_caps": [
            {"id": "turnover", "scope": "strategy", "max": 400_000},
            {"id": "treasury-usdc", "scope": "destination", "unit": "USDC", "max": 60_000},
        ],
    },
    "approvals": {"above_notional_usd": 45_000},
    "risk": {
        "symbol_whitelist": ["BTC/USDT", "ETH/USDT", "SOL/USDT"],
        "min_order_notional_usd": 5,
        "max_order_notional_usd": 50_000,
        "max_position_notional_usd": 100_000,
        "max_leverage": 1,
        "max_daily_trades": 24,
        "max_concurrent_positions": 3,
        "max_slippage_bps": 30,
        "max_daily_loss_pct": 3,
        "max_risk_per_trade_pct": 5,
        "cooldown_minutes": 15,
        "max_orders_per_minute": 6,
    },
    "circuit_breakers": {
        "max_drawdown_pct": 25,
        "max_consecutive_losses": 8,
        "max_consecutive_failures": 3,
        "min_win_rate_pct": 20,
        "win_rate_window": 10,
    },
}

Case = tuple[Action, PolicyContext]


def cases(n: int, seed: int = 8) -> list[Case]:
    """``n`` seeded orders, exits, transfers and account states; about 30% are allowed under
    :data:`BOOK` (1,456 of the first 5,000), the rest denied by every layer (blocked venue,
    grants, transfer allowlist, rolling caps, whitelist, caps, slippage, daily loss, cooldown,
    order rate, counts, breakers)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        symbol = rng.choice(SYMBOLS[:3] * 3 + SYMBOLS[3:])
        held = rng.choice([0.0, 0.0, 0.0, 20_000.0, 95_000.0])
        exit_ = held > 0 and rng.random() < 0.25
        price = rng.choice([2_500.0, 60_000.0])
        action = (
            _transfer(rng)
            if rng.random() < 0.1
            else Action(
                kind="order",
                venue=rng.choice(["binance"] * 8 + ["kraken", "ftx"]),
                symbol=symbol,
                side=Side.SELL if exit_ else Side.BUY,
                quantity=rng.choice([0.01, 0.02, 0.05, 0.1, 1.0]),
                price=price,
                strategy_id=rng.choice(["ema_cross"] * 4 + ["other"]),
                reduces_position=exit_,
                quoted_price=price * rng.choice([1.0] * 8 + [0.999, 0.99]),
                stop_price=0.0 if exit_ else price * rng.choice([0.995, 0.99, 0.99, 0.99, 0.9]),
            )
        )
        ctx = PolicyContext(
            now=NOW,
            position_notional_usd={symbol: held} if held else {},
            open_positions=rng.choice([0, 1, 1, 2, 2, 3]),
            trades_today=rng.randint(0, 25),
            equity_usd=rng.choice([10_500.0, 9_000.0, 9_000.0, 9_500.0, 9_900.0, 7_000.0]),
            equity_high_water_usd=10_000.0,
            consecutive_losses=rng.randint(0, 8),
            consecutive_failures=rng.choice([0, 0, 0, 0, 1, 2, 3]),
            daily_pnl_usd=rng.choice([0.0, -100.0, 120.0, 80.0, 40.0, 10.0, -20.0, -350.0]),
            day_start_equity_usd=10_000.0,
            orders_last_minute=rng.choice([0, 0, 0, 1, 1, 2, 3, 6]),
            last_close_at={symbol: NOW - timedelta(minutes=rng.choice([5] + [60, 600, 6000] * 3))},
            recent_trade_wins=tuple(rng.random() < 0.45 for _ in range(12)),
            rolling_usage={("turnover", "ema_cross"): rng.uniform(0, 4e5)},
            prices_usd={"USDC": 1.0},
        )
        out.append((action, ctx))
    return out


def _transfer(rng: random.Random) -> Action:
    """A treasury USDC transfer: to the allowlisted treasury or elsewhere, sometimes too large."""
    return Action(
        kind="transfer",
        venue="",
        token="USDC",
        quantity=rng.choice([500.0, 5_000.0, 25_000.0]),
        to=rng.choice([TREASURY] * 4 + ["0x" + "ab" * 20]),
        wallet="0x" + "11" * 20,
        strategy_id="treasury",
    )


def _ours(policy: Policy) -> Callable[[Action, PolicyContext], PolicyDecision]:
    return lambda action, ctx: evaluate(action, ctx, policy)


def _foundation(policy: Policy) -> Callable[[Action, PolicyContext], PolicyDecision]:
    """The same decision paying the per-call canonical-JSON hash the foundation engine paid."""

    def decide(action: Action, ctx: PolicyContext) -> PolicyDecision:
        policy.compute_hash()
        return evaluate(action, ctx, policy)

    return decide


def _rate(decide: Callable[[Action, PolicyContext], PolicyDecision], batch: list[Case]) -> float:
    """Evaluations per second over the whole batch (one warm-up pass untimed)."""
    for action, ctx in batch:
        decide(action, ctx)
    start = time.perf_counter()
    for action, ctx in batch:
        decide(action, ctx)
    return len(batch) / (time.perf_counter() - start)


def _p99_us(decide: Callable[[Action, PolicyContext], PolicyDecision], batch: list[Case]) -> float:
    """99th percentile of single-call latency in microseconds (perf_counter_ns around each)."""
    for action, ctx in batch[:200]:
        decide(action, ctx)
    clock, samples = time.perf_counter_ns, []
    for action, ctx in batch:
        start = clock()
        decide(action, ctx)
        samples.append(clock() - start)
    return statistics.quantiles(samples, n=100)[98] / 1_000


def policy_evals_per_s(n: int = 50_000, repeat: int = 5) -> Figure:
    """Median evaluations per second of ``repeat`` passes over ``n`` mixed cases, vs the
    foundation's per-call hash. Higher is better."""
    policy, batch = parse_policy(BOOK), cases(n)
    ours = statistics.median(_rate(_ours(policy), batch) for _ in range(repeat))
    base = statistics.median(_rate(_foundation(policy), batch) for _ in range(repeat))
    return Figure(
        "policy_evals_per_s", round(ours), "evals/s", round(base), round(ours / base, 2), n
    )


def policy_eval_p99_us(n: int = 50_000) -> Figure:
    """p99 latency of one evaluation in microseconds, vs the foundation's per-call hash. Lower
    is better, so the ratio is baseline / value (>1: we win)."""
    policy, batch = parse_policy(BOOK), cases(n)
    ours = round(_p99_us(_ours(policy), batch), 2)
    base = round(_p99_us(_foundation(policy), batch), 2)
    # The ratio of the printed values (at a ratio in the tens, rounding ours to 0.01 us moved the
    # ratio by more than the 0.01 the line is checked to).
    return Figure("policy_eval_p99_us", ours, "us", base, round(base / ours, 2), n)
