"""``python -m benchmarks [--only NAME]``: print one JSON line per figure."""

from __future__ import annotations

import argparse
import os
import sys

from drydock.settings import get_settings

os.environ.setdefault("NUMBA_CACHE_DIR", str(get_settings().numba_cache_dir))


def main(argv: list[str] | None = None) -> int:
    from benchmarks.backtest import BENCHMARKS

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run one benchmark")
    args = parser.parse_args(argv)
    for name, bench in BENCHMARKS.items():
        if args.only in (None, name):
            print(bench().json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
