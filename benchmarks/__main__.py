"""``python -m benchmarks [--only NAME ...]``: print one JSON line per figure."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the selected figures (all by default) and print each as one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run the figure with this exact name (repeatable)",
    )
    args = parser.parse_args(argv)

    from benchmarks.registry import FIGURES

    unknown = [name for name in args.only if name not in FIGURES]
    if unknown:
        parser.error(
            f"unknown figure {', '.join(map(repr, unknown))}; valid names: {', '.join(FIGURES)}"
        )
    from drydock.logs import configure_logging
    from drydock.runtime import prepare_numba
    from drydock.settings import get_settings

    if "log_level" not in get_settings().given:
        configure_logging(
            level="warning"
        )  # the figures are the output; DRYDOCK_LOG_LEVEL=info logs

    prepare_numba()  # before vectorbt (and numba) are imported by the figures
    for name, figure in FIGURES.items():
        if not args.only or name in args.only:
            print(figure().json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
