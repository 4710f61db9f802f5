"""Start-up cost of `gitops-lifecycle wait tcp`: time to the first attempt and peak RSS.

The real process is started against a listening socket we hold; the time from spawning it to
accepting its connection is its first attempt, and `wait4()` gives its peak RSS. Beside it,
measured in the same run: a bare `python -c pass`, and `import kubernetes_asyncio.client`,
which is what the check would cost if the Kubernetes client were loaded eagerly.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time

TARGET_FIRST_ATTEMPT = 1.0
TARGET_PEAK_RSS = 64 * 1024 * 1024


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _peak_rss(process: subprocess.Popen[bytes]) -> int:
    """Wait for the child and return its peak RSS in bytes (Linux reports KiB)."""
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return int(usage.ru_maxrss) * 1024


def measure_wait() -> tuple[float, int]:
    """(seconds from spawn to the first connection, peak RSS bytes) of one `wait tcp`."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        server.settimeout(30)
        started = time.perf_counter()
        process = _spawn([sys.executable, "-m", "gitops_lifecycle", "wait", "tcp",
                          f"127.0.0.1:{port}", "--timeout", "30"])
        connection, _ = server.accept()
        first = time.perf_counter() - started
        connection.close()
        peak = _peak_rss(process)
    if process.returncode != 0:
        raise RuntimeError(f"wait tcp exited {process.returncode}")
    return first, peak


def measure_python(code: str) -> tuple[float, int]:
    """(seconds to run, peak RSS bytes) of `python -c CODE`."""
    started = time.perf_counter()
    process = _spawn([sys.executable, "-c", code])
    peak = _peak_rss(process)
    return time.perf_counter() - started, peak


def _median(samples: list[tuple[float, int]]) -> tuple[float, int]:
    return (statistics.median(s for s, _ in samples),
            int(statistics.median(m for _, m in samples)))


def _row(label: str, seconds: float, peak: int, base: tuple[float, int]) -> str:
    mib = peak / 2**20
    return (f"  {label:<36} {seconds * 1000:7.0f} ms ({seconds / base[0]:4.1f}x)"
            f"  {mib:6.1f} MiB ({peak / base[1]:4.1f}x)")


def main(quick: bool = False) -> int:
    """Print the figures; return 1 when `wait tcp` misses its budget."""
    runs = 3 if quick else 9
    base = _median([measure_python("pass") for _ in range(runs)])
    kube = _median([measure_python("import kubernetes_asyncio.client") for _ in range(runs)])
    first, peak = _median([measure_wait() for _ in range(runs)])
    print(f"median of {runs} runs; ratios against `python -c pass`")
    print(_row("python -c pass", *base, base))
    print(_row("import kubernetes_asyncio.client", *kube, base))
    print(_row("wait tcp: spawn to first attempt", first, peak, base))
    ok = first < TARGET_FIRST_ATTEMPT and peak < TARGET_PEAK_RSS
    print(f"  budget: first attempt < {TARGET_FIRST_ATTEMPT:.0f} s and peak RSS < "
          f"{TARGET_PEAK_RSS // 2**20} MiB: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1
