"""Run every benchmark (or those named) and print their figures.

Each benchmark runs in a process of its own, so that what one measures (peak RSS, memory per
cached object) is not inflated by what an earlier one left behind.
"""

from __future__ import annotations

import argparse
import pkgutil
import subprocess
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def run(name: str, *, quick: bool) -> int:
    module = f"benchmarks.bench_{name.removeprefix('bench_')}"
    print(f"== {module}", flush=True)
    code = f"import sys, {module} as m; sys.exit(m.main(quick={quick}))"
    return subprocess.run([sys.executable, "-c", code], check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(available())} (default all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    failed = [name for name in args.names or available() if run(name, quick=args.quick)]
    if failed:
        print(f"missed their targets or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
