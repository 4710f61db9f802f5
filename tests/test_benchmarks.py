"""`python -m benchmarks --quick`: every benchmark runs and reports each figure with a verdict.

A smoke run: the sizes are too small (and the machine too busy) for the figures to mean
anything, so nothing here judges a time or a size; what is checked is that every benchmark
still runs to the end and prints each of its figures with its same-run baseline, its target
and `met` or `missed`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import available
from benchmarks.verdict import Figure

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^FIGURE (?P<name>[^|]+): (?P<value>[^|]+) \| baseline \(same run\): [^|]+ "
                  r"\| target: (?:<=|≥) [^|]+ \| (?P<verdict>met|missed)$")


@pytest.fixture(scope="module")
def quick_run() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"], cwd=ROOT, capture_output=True,
        text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def sections(output: str) -> dict[str, list[str]]:
    """The lines each benchmark printed, by name."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in output.splitlines():
        if line.startswith("== benchmarks.bench_"):
            current = found.setdefault(line.removeprefix("== benchmarks.bench_"), [])
        elif line.startswith("== summary"):
            current = []
        else:
            current.append(line)
    return found


@pytest.mark.timeout(660)
@pytest.mark.parametrize("name", available())
def test_each_benchmark_prints_every_figure_with_baseline_target_and_verdict(quick_run, name):
    lines = sections(quick_run)[name]
    figures = [line for line in lines if line.startswith("FIGURE ")]
    assert figures, f"{name} printed no figure:\n" + "\n".join(lines)
    for line in figures:
        assert LINE.match(line), line
        assert "(quick sizes)" in line


@pytest.mark.timeout(660)
def test_the_summary_repeats_every_figure(quick_run):
    figures = [line for lines in sections(quick_run).values() for line in lines
               if line.startswith("FIGURE ")]
    summary = quick_run.split("== summary", 1)[1].splitlines()[1:]
    assert [line.split(": ", 1)[1] for line in summary] == [f.removeprefix("FIGURE ")
                                                              for f in figures]


def test_a_figure_says_missed_when_its_value_is_past_the_target():
    assert Figure("p99", 120.0, "ms", baseline="none", at_most=100).line().endswith(" missed")
    assert Figure("p99", 100.0, "ms", baseline="none", at_most=100).line().endswith(" met")
    assert Figure("speed-up", 19.9, "x", baseline="none", at_least=20).line().endswith(" missed")
    assert LINE.match(Figure("speed-up", 25, "x", baseline="typed 9 events/s",
                             at_least=20).line())
