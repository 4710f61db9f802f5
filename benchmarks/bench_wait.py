"""Start-up cost of `gitops-lifecycle wait`: each check's peak RSS, and `wait tcp`'s first attempt.

Init containers run `wait` under small memory limits, and every second they take delays the
pod. Each check runs as the real process against a server that is ready: tcp against a socket
we hold, http against a small HTTP server in a thread, postgres, redis and mqtt against the
servers the tests start from Debian's packages, k8s and secret against `gitops-lifecycle
simulate`. Peak RSS comes from `wait4()`. Beside them, in the same run: a bare `python -c pass`
and `import kubernetes_asyncio.config`, which the Kubernetes checks used to load.
"""

from __future__ import annotations

import contextlib
import http.server
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.verdict import Figure, report

TARGET_PEAK_RSS = 48 * 2**20  # every check, in a 64 MiB init container
TARGET_FIRST_ATTEMPT_RATIO = 6.0  # `wait tcp`'s first attempt within 6x a bare interpreter
TARGET_TCP_PEAK_RSS = 30 * 2**20  # `wait tcp`, the check init containers run most
CHECKS = ("tcp", "http", "postgres", "redis", "mqtt", "k8s", "secret")
EXTRA = ("mysql",)  # measured and shown, not (yet) held to the budget
SCENARIO = """\
objects:
  - apiVersion: batch/v1
    kind: Job
    metadata: {name: migrate, namespace: default}
    spec: {template: {spec: {containers: [{name: c, image: x}], restartPolicy: Never}}}
    status:
      conditions: [{type: Complete, status: "True"}]
  - apiVersion: v1
    kind: Secret
    metadata: {name: db, namespace: default}
    data: {password: c2VjcmV0}
"""


# A child's peak RSS counts the image it was forked from (the kernel keeps the high-water mark
# across exec), so a big parent would inflate it: a bare interpreter spawns each measured
# process and reports what wait4() says. Its own size is that of `python -c pass`.
_LAUNCHER = """
import os, sys
devnull = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=devnull)
_pid, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status))
"""


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _launch(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", _LAUNCHER, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


def _peak_rss(process: subprocess.Popen[bytes]) -> int:
    """Wait for a launched child; return its peak RSS in bytes (raise if it failed)."""
    out, _ = process.communicate()
    peak, code = out.split()
    if int(code) != 0:
        raise RuntimeError(f"{process.args[3:6]} exited {int(code)}")
    return int(peak)


def _wait(*args: str) -> list[str]:
    return [sys.executable, "-m", "gitops_lifecycle", "wait", *args, "--timeout", "30",
            "--log-level", "error"]


def measure_tcp() -> tuple[float, int]:
    """(seconds from spawn to the first connection, peak RSS bytes) of `wait tcp`."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        server.settimeout(30)
        started = time.perf_counter()
        process = _spawn(_wait("tcp", f"127.0.0.1:{port}"))
        connection, _ = server.accept()
        first = time.perf_counter() - started
        connection.close()
        if process.wait(30) != 0:
            raise RuntimeError(f"wait tcp exited {process.returncode}")
        launched = _launch(_wait("tcp", f"127.0.0.1:{port}"))
        connection, _ = server.accept()
        connection.close()
        return first, _peak_rss(launched)


def measure_python(code: str) -> tuple[float, int]:
    """(seconds to run, peak RSS bytes) of `python -c CODE`."""
    started = time.perf_counter()
    _spawn([sys.executable, "-c", code]).wait()
    seconds = time.perf_counter() - started
    return seconds, _peak_rss(_launch([sys.executable, "-c", code]))


def measure_check(argv: list[str]) -> tuple[float, int]:
    """(seconds to ready, peak RSS bytes) of one `wait` that must end ready."""
    started = time.perf_counter()
    if _spawn(_wait(*argv)).wait() != 0:
        raise RuntimeError(f"wait {argv[0]} did not end ready")
    seconds = time.perf_counter() - started
    return seconds, _peak_rss(_launch(_wait(*argv)))


# --- servers that are ready -------------------------------------------------------------------


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def _http() -> Iterator[list[str]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ["http", f"http://127.0.0.1:{server.server_address[1]}/health"]
    finally:
        server.shutdown()


@contextlib.contextmanager
def _postgres() -> Iterator[list[str]]:
    from tests.retry import services

    port = services.free_port()
    with services.postgres_cluster() as cluster:
        cluster.start(port)
        yield ["postgres",
               f"postgresql://postgres:{services.PG_PASSWORD}@127.0.0.1:{port}/postgres"]


@contextlib.contextmanager
def _redis() -> Iterator[list[str]]:
    from tests.retry import services

    port = services.free_port()
    process = services.start_redis(port)
    try:
        yield ["redis", f"redis://app:{services.REDIS_PASSWORD}@127.0.0.1:{port}/0"]
    finally:
        services.stop(process)


@contextlib.contextmanager
def _mqtt() -> Iterator[list[str]]:
    from tests.retry import services

    port = services.free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = services.start_mosquitto(services.mosquitto_config(Path(directory), port), port)
        try:
            url = f"mqtt://{services.MQTT_USER}:{services.MQTT_PASSWORD}@127.0.0.1:{port}"
            yield ["mqtt", url]
        finally:
            services.stop(process)


@contextlib.contextmanager
def _mysql() -> Iterator[list[str]]:
    from tests.retry import services

    port = services.free_port()
    with services.mariadb_server() as server:
        server.start(port)
        yield ["mysql", (f"mysql://{services.MYSQL_USER}:{services.MYSQL_PASSWORD}"
               f"@127.0.0.1:{port}/mysql")]


@contextlib.contextmanager
def _simulate() -> Iterator[Path]:
    """`gitops-lifecycle simulate` with a Job and a Secret; yields its kubeconfig."""
    with tempfile.TemporaryDirectory() as directory:
        scenario, kubeconfig = Path(directory) / "scenario.yaml", Path(directory) / "kubeconfig"
        scenario.write_text(SCENARIO)
        process = subprocess.Popen(
            [sys.executable, "-m", "gitops_lifecycle", "simulate", "--scenario", str(scenario),
             "--kubeconfig-out", str(kubeconfig), "--authentik-schema", "off"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("kubeconfig:"):
                    break
            yield kubeconfig
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def _k8s() -> Iterator[list[str]]:
    with _simulate() as kubeconfig:
        yield ["k8s", "job/migrate", "--for", "condition=Complete", "--kubeconfig",
               str(kubeconfig)]


@contextlib.contextmanager
def _secret() -> Iterator[list[str]]:
    with _simulate() as kubeconfig:
        yield ["secret", "db", "--keys", "password", "--kubeconfig", str(kubeconfig)]


SERVERS: dict[str, Callable[[], contextlib.AbstractContextManager[list[str]]]] = {
    "http": _http, "postgres": _postgres, "redis": _redis, "mqtt": _mqtt, "k8s": _k8s,
    "secret": _secret, "mysql": _mysql,
}


def _median(samples: list[tuple[float, int]]) -> tuple[float, int]:
    return (statistics.median(s for s, _ in samples),
            int(statistics.median(m for _, m in samples)))


def _row(label: str, seconds: float, peak: int, base: tuple[float, int]) -> str:
    mib = peak / 2**20
    return (f"  {label:<38} {seconds * 1000:7.0f} ms ({seconds / base[0]:4.1f}x)"
            f"  {mib:6.1f} MiB ({peak / base[1]:4.1f}x)")


def _measure(check: str, runs: int) -> tuple[float, int] | str:
    """The median of `runs` runs, or why the check could not be measured."""
    import pytest  # the test servers skip through pytest when a package is missing

    try:
        with SERVERS[check]() as argv:
            return _median([measure_check(argv) for _ in range(runs)])
    except (Exception, pytest.skip.Exception) as exc:
        return f"not measured: {exc}"


def main(quick: bool = False) -> int:
    """Print the figures; return 1 when a check misses its budget."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' servers
    runs = 1 if quick else 7
    base = _median([measure_python("pass") for _ in range(runs)])
    kube = _median([measure_python("import kubernetes_asyncio.config") for _ in range(runs)])
    first, tcp_peak = _median([measure_tcp() for _ in range(runs)])
    print(f"median of {runs} runs; ratios against `python -c pass`")
    print(_row("python -c pass", *base, base))
    print(_row("import kubernetes_asyncio.config", *kube, base))
    print(_row("wait tcp: spawn to first attempt", first, tcp_peak, base))
    peaks = {"tcp": tcp_peak}
    for check in (*CHECKS[1:], *EXTRA):
        found = _measure(check, runs)
        if isinstance(found, str):
            print(f"  wait {check}: {found}")
            continue
        extra = " (no budget)" if check in EXTRA else ""
        print(_row(f"wait {check}: spawn to ready{extra}", *found, base))
        if check in CHECKS:
            peaks[check] = found[1]
    ratio = first / base[0]
    baseline = f"`python -c pass` {base[0] * 1000:.0f} ms, {base[1] / 2**20:.1f} MiB"
    figures = [
        Figure("wait tcp first attempt", ratio, "x", at_most=TARGET_FIRST_ATTEMPT_RATIO,
               baseline=baseline),
        Figure("wait tcp peak RSS", tcp_peak / 2**20, "MiB",
               at_most=TARGET_TCP_PEAK_RSS / 2**20, baseline=baseline),
    ]
    for check in CHECKS[1:]:
        peak = peaks.get(check)
        figures.append(Figure(f"wait {check} peak RSS",
                              math.nan if peak is None else peak / 2**20, "MiB",
                              at_most=TARGET_PEAK_RSS / 2**20, baseline=baseline))
    return report(figures, quick=quick)
