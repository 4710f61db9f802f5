"""What `wait` loads: only what its check reads, so that it starts fast and small.

The real entry points (`python -m gitops_lifecycle`, the console script) run as `__main__`
in a child process that lists `sys.modules` as it exits. Start-up time itself is measured by
`python -m benchmarks wait`, not here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Each costs megabytes or tens of milliseconds that an init container waits for.
HEAVY = ("pydantic", "pydantic_core", "pydantic_settings", "yaml", "structlog", "prometheus_client",
         "aiohttp", "kubernetes_asyncio", "h11", "gitops_lifecycle.settings",
         "gitops_lifecycle.metrics", "gitops_lifecycle.kube", "gitops_lifecycle.daemon",
         "gitops_lifecycle.simulation")
OTHER_CHECKS = ("postgres", "mysql", "redis", "mqtt", "http", "http11", "dns", "kube",
                "kubeapi", "kubeconfig", "secret", "externalsecret")


def _environment(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_LIFECYCLE_")}
    env["GITOPS_LIFECYCLE_LOGGING__FORMAT"] = "json"
    env.update(variables)
    return env


# Runs the module (-m) or script as __main__, as Python does, and lists sys.modules at exit.
_LISTING = """
import atexit, json, pathlib, runpy, sys
listing, kind, target, *sys.argv[1:] = sys.argv[1:]
atexit.register(lambda: pathlib.Path(listing).write_text(json.dumps(sorted(sys.modules))))
sys.argv[0] = target
if kind == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target, run_name="__main__")
"""


def imported(program: list[str], *args: str, env: dict[str, str] | None = None) -> set[str]:
    """Every module `program` (`-m MODULE` or a script) loaded, after checking it ended ready."""
    with tempfile.TemporaryDirectory() as directory:
        listing = Path(directory) / "modules.json"
        done = subprocess.run([sys.executable, "-c", _LISTING, str(listing), *program, *args],
                              capture_output=True, text=True, check=False, timeout=60,
                              env=env or _environment())
        assert done.returncode == 0, done.stderr[-800:]
        return set(json.loads(listing.read_text()))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


@pytest.fixture
def ready() -> str:
    """An address that accepts connections."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.listen(8)
        yield f"127.0.0.1:{server.getsockname()[1]}"


def test_wait_tcp_loads_neither_the_settings_model_nor_yaml_nor_another_check(ready):
    modules = imported(["-m", "gitops_lifecycle"], "wait", "tcp", ready, "--timeout", "5s")
    assert "gitops_lifecycle.retry.checks.tcp" in modules  # the listing is real
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, tuple(f"gitops_lifecycle.retry.checks.{c}" for c in OTHER_CHECKS)) \
        == []


def test_wait_tcp_reads_its_retry_and_logging_settings_without_the_settings_model(ready):
    env = _environment(GITOPS_LIFECYCLE_RETRY__DEFAULTS__MAXATTEMPTS="3",
                       GITOPS_LIFECYCLE_RETRY__SERVICES='{"tcp": {"attemptTimeout": "2s"}}')
    modules = imported(["-m", "gitops_lifecycle"], "wait", "tcp", ready, "--log-level", "error",
                       "--base-delay", "1s", "--no-jitter", env=env)
    assert loaded(modules, HEAVY) == []


def test_the_console_script_dispatches_to_wait_just_as_lightly(ready):
    script = shutil.which("gitops-lifecycle")
    if script is None:
        pytest.skip("the gitops-lifecycle console script is not installed (pip install -e .)")
    modules = imported(["--script", script], "wait", "tcp", ready)
    assert "gitops_lifecycle.retry.checks.tcp" in modules
    assert loaded(modules, HEAVY) == []


def test_a_setting_wait_does_not_read_is_still_validated_and_stops_it():
    env = _environment(GITOPS_LIFECYCLE_CLEANUP__CONTROLLER__INTERVAL="banana")
    done = subprocess.run([sys.executable, "-m", "gitops_lifecycle", "wait", "tcp",
                           "127.0.0.1:1", "--timeout", "0"], capture_output=True, text=True,
                          check=False, timeout=60, env=env)
    assert done.returncode == 2
    assert "invalid settings: cleanup.controller.interval: 'banana' is invalid" in done.stderr
