"""Run every benchmark (or those named) and print their figures.

Each benchmark runs in a process of its own, so that what one measures (peak RSS, memory per
cached object) is not inflated by what an earlier one left behind. With `--quick` they run
all at once, a smoke run whose figures mean little. Each prints its figures as
`FIGURE` lines (`benchmarks/verdict.py`): value, baseline measured in the same run, target,
and `met` or `missed`; a summary of every line follows at the end.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.verdict import PREFIX, load


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def start(name: str, *, quick: bool, echo: bool) -> subprocess.Popen[str]:
    """Start one benchmark in a process of its own (its output echoed as it comes, or kept)."""
    module = f"benchmarks.bench_{name.removeprefix('bench_')}"
    code = f"import sys, {module} as m; sys.exit(m.main(quick={quick}))"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=env, stderr=None if echo else subprocess.STDOUT)


def finish(name: str, process: subprocess.Popen[str]) -> tuple[int, list[str]]:
    """Print a benchmark's output under its name; its exit status and `FIGURE` lines."""
    print(f"== benchmarks.bench_{name}", flush=True)
    figures = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith(PREFIX):
            figures.append(line.rstrip("\n"))
    return process.wait(), figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(available())} (default all)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes, all at once: a smoke run (the figures mean little)")
    args = parser.parse_args()
    started = time.monotonic()
    failed, summary = [], []
    names = args.names or available()
    # A full run measures one benchmark at a time; a smoke run only checks they all still run.
    running = {name: start(name, quick=True, echo=False) for name in names} if args.quick \
        else {}
    for name in names:
        process = running.get(name) or start(name, quick=False, echo=True)
        status, figures = finish(name, process)
        summary += [f"{name}: {line.removeprefix(PREFIX)}" for line in figures]
        if status:
            failed.append(name)
    print(f"== summary ({time.monotonic() - started:.0f} s, {load()})")
    for line in summary:
        print(line)
    if failed:
        print(f"missed their targets or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
