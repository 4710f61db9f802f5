"""Run every benchmark (or those named) and print their figures."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(available())} (default all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    failed = 0
    for name in args.names or available():
        module = importlib.import_module(f"benchmarks.bench_{name.removeprefix('bench_')}")
        print(f"== {module.__name__}", flush=True)
        failed += module.main(quick=args.quick)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
