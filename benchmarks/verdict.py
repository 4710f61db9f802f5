"""How every benchmark reports a figure: its value, the baseline measured in the same run, its
target, and whether the target was met.

One line per figure, always in the same shape, so that a reader (and the smoke test) finds
them all:

    FIGURE <name>: <value> | baseline (same run): <baseline> | target: <target> | met

The last word is `met` or `missed`. With `--quick` the sizes are too small for the figures to
mean much: the lines say so, and a miss does not fail the run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

PREFIX = "FIGURE "


@dataclass(frozen=True)
class Figure:
    """One measured figure and its target (`at_most` or `at_least`, in the figure's unit)."""

    name: str
    value: float
    unit: str
    baseline: str
    """What the figure is compared with, measured in the same run (or why there is none)."""
    at_most: float | None = None
    at_least: float | None = None
    digits: int = 1

    @property
    def met(self) -> bool:
        if math.isnan(self.value):  # nothing measured
            return False
        if self.at_most is not None and self.value > self.at_most:
            return False
        return self.at_least is None or self.value >= self.at_least

    def line(self, *, quick: bool = False) -> str:
        target = " and ".join(
            f"{sign} {self._number(bound)}" for sign, bound in (("<=", self.at_most),
                                                                ("≥", self.at_least))
            if bound is not None)
        note = " (quick sizes)" if quick else ""
        return (f"{PREFIX}{self.name}: {self._number(self.value)}{note} | "
                f"baseline (same run): {self.baseline} | target: {target} | "
                f"{'met' if self.met else 'missed'}")

    def _number(self, value: float) -> str:
        unit = self.unit if self.unit in {"x", "%"} else f" {self.unit}" if self.unit else ""
        return f"{value:,.{self.digits}f}{unit}"


def load() -> str:
    """The machine's load averages, to print beside figures measured on a shared machine."""
    one, five, fifteen = os.getloadavg()
    return (f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores")


def report(figures: list[Figure], *, quick: bool) -> int:
    """Print every figure; 1 when a target is missed at full size, else 0."""
    print(load())
    for figure in figures:
        print(figure.line(quick=quick), flush=True)
    return 0 if quick or all(figure.met for figure in figures) else 1
