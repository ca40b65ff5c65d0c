"""drydock.cache.JsonCache: values with a time to live, additive counters, namespaces, and two
processes sharing one file."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from drydock.cache import JsonCache


def test_values_expire_after_their_time_to_live_and_namespaces_do_not_mix(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    a, b = JsonCache(path, "a"), JsonCache(path, "b")
    a.put("k", {"x": [1, 2]}, now=1_000.0)
    assert a.get("k", max_age=60, now=1_059.9) == {"x": [1, 2]}
    assert a.get("k", max_age=60, now=1_060.0) is None  # exactly the TTL: stale
    assert a.get("k") == {"x": [1, 2]}  # no TTL asked
    assert b.get("k") is None
    a.put("k", "kept", replace=False)
    assert a.get("k") == {"x": [1, 2]}
    a.put("k", "new")
    assert a.get("k") == "new"


def _spend(path: str, n: int) -> None:
    cache = JsonCache(Path(path), "budget")
    for _ in range(n):
        cache.add("tokens:2025-01-01", 7)
    cache.close()


def test_counters_add_up_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    JsonCache(path, "budget").close()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_spend, args=(str(path), 50)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert JsonCache(path, "budget").count("tokens:2025-01-01") == 3 * 50 * 7
    assert JsonCache(path, "other").count("tokens:2025-01-01") == 0
