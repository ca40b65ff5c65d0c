"""Policy engine figures: evaluations per second and p99 latency on one core.

A realistic spot book (:data:`BOOK`: switches, blocklists, two scoped grants, whitelist, order and
position caps, leverage, trade and position counts, three breakers; 20+ effective rules) decides a
fixed, seeded mix of allowed and denied orders and exits. The baseline is the foundation engine's
cost model: the same evaluation plus ``Policy.compute_hash()`` on every call, since the foundation
rebuilt the content hash from canonical JSON per decision (issue 8 measured 43k evals/s for it).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from benchmarks.harness import Figure
from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.types import Action, PolicyDecision, Side

NOW = datetime(2025, 6, 1, tzinfo=UTC)
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
        ]
    },
    "risk": {
        "symbol_whitelist": ["BTC/USDT", "ETH/USDT", "SOL/USDT"],
        "min_order_notional_usd": 5,
        "max_order_notional_usd": 50_000,
        "max_position_notional_usd": 100_000,
        "max_leverage": 1,
        "max_daily_trades": 24,
        "max_concurrent_positions": 3,
    },
    "circuit_breakers": {
        "max_drawdown_pct": 25,
        "max_consecutive_losses": 8,
        "max_consecutive_failures": 3,
    },
}

Case = tuple[Action, PolicyContext]


def cases(n: int, seed: int = 8) -> list[Case]:
    """``n`` seeded orders, exits and account states; about half are denied under :data:`BOOK`,
    by every layer (blocked venue, grants, whitelist, caps, counts, breakers)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        symbol = rng.choice(SYMBOLS[:3] * 3 + SYMBOLS[3:])
        held = rng.choice([0.0, 0.0, 0.0, 20_000.0, 95_000.0])
        exit_ = held > 0 and rng.random() < 0.25
        action = Action(
            kind="order",
            venue=rng.choice(["binance"] * 8 + ["kraken", "ftx"]),
            symbol=symbol,
            side=Side.SELL if exit_ else Side.BUY,
            quantity=rng.choice([0.01, 0.02, 0.05, 0.1, 1.0]),
            price=rng.choice([2_500.0, 60_000.0]),
            strategy_id=rng.choice(["ema_cross"] * 4 + ["other"]),
            reduces_position=exit_,
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
        )
        out.append((action, ctx))
    return out


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
    ours = _p99_us(_ours(policy), batch)
    base = _p99_us(_foundation(policy), batch)
    return Figure(
        "policy_eval_p99_us", round(ours, 2), "us", round(base, 2), round(base / ours, 2), n
    )
