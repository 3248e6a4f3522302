"""Run every benchmark and print its table; exit 1 when a figure misses its target."""

from __future__ import annotations

import argparse
import sys

from bench import cold_start


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--samples", type=int, default=9, help="fresh interpreters per function (default 9)")
    args = parser.parse_args()

    table, ok = cold_start.report(cold_start.measure(args.samples))
    print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
