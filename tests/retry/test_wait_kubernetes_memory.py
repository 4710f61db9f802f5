"""The Kubernetes checks fit an init container: no client library, and a 64 MiB memory limit."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.retry.services import run_wait
from tests.retry.test_wait_kubernetes import external_secret, job

LIMIT = 64 * 1024 * 1024
BLOCKED = ("import sys; sys.modules['kubernetes_asyncio'] = None; "
           "from gitops_lifecycle.cli import main; sys.exit(main(sys.argv[1:]))")


async def run(*argv: str, preexec_fn=None) -> tuple[int, dict[str, object], str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=preexec_fn,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    lines = out.decode().strip().splitlines()
    return process.returncode or 0, json.loads(lines[-1]) if lines else {}, err.decode()


def ready_objects(sim, namespace: str) -> None:
    sim.create(job(namespace, ("Complete", "True")))
    sim.create({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "namespace": namespace},
                "data": {"password": base64.b64encode(b"x").decode()}})
    sim.create(external_secret(namespace))


CHECKS = {
    "k8s": ("job/migrate", "--for", "condition=Complete"),
    "secret": ("db", "--keys", "password"),
    "externalsecret": ("creds",),
}


@pytest.mark.parametrize("check", sorted(CHECKS))
async def test_the_kubernetes_checks_never_import_kubernetes_asyncio(sim, kubeconfig, check):
    ready_objects(sim, "mem")
    code, summary, err = await run(
        sys.executable, "-c", BLOCKED, "wait", check, *CHECKS[check], "-n", "mem",
        "--kubeconfig", str(kubeconfig), "--timeout", "20")
    assert (code, summary.get("outcome")) == (0, "ready"), err


def _own_cgroup(controller: str) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == "" and not controllers):
            return path
    raise FileNotFoundError(f"no {controller or 'unified'} cgroup")


@contextlib.contextmanager
def memory_limited_cgroup(limit: int) -> Iterator[Path]:
    """A child of our own memory cgroup (v1 or v2) limited to `limit` bytes, no swap."""
    v1 = Path("/sys/fs/cgroup/memory")
    try:
        if v1.is_dir():
            group = v1 / _own_cgroup("memory").lstrip("/") / f"wait-limit-{os.getpid()}"
            group.mkdir()
            (group / "memory.limit_in_bytes").write_text(str(limit))
            with contextlib.suppress(OSError):
                (group / "memory.memsw.limit_in_bytes").write_text(str(limit))
        else:
            unified = Path("/sys/fs/cgroup") / _own_cgroup("").lstrip("/")
            group = unified / f"wait-limit-{os.getpid()}"
            group.mkdir()
            (group / "memory.max").write_text(str(limit))
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")
    except OSError as exc:
        pytest.skip(f"cannot make a memory-limited cgroup here ({exc}); "
                    "benchmarks/bench_wait.py measures peak RSS instead")
    try:
        yield group
    finally:
        with contextlib.suppress(OSError):
            group.rmdir()


async def test_wait_k8s_survives_a_64_mib_memory_limit(sim, kubeconfig):
    ready_objects(sim, "limited")
    with memory_limited_cgroup(LIMIT) as group:
        procs = group / "cgroup.procs"

        def join() -> None:
            procs.write_text(str(os.getpid()))

        code, summary, err = await run(
            sys.executable, "-m", "gitops_lifecycle", "wait", "k8s", "job/migrate",
            "-n", "limited", "--for", "condition=Complete", "--kubeconfig", str(kubeconfig),
            "--timeout", "20", preexec_fn=join)
    assert code == 0, f"exit {code} (-9: killed for memory) {err[-500:]}"
    assert summary["outcome"] == "ready"


def test_an_empty_kubeconfig_is_a_usage_error_that_says_so(tmp_path):
    empty = tmp_path / "config"
    empty.write_text("")
    waited = run_wait("k8s", "job/migrate", "-n", "x", "--kubeconfig", str(empty),
                      "--timeout", "20")
    assert (waited.returncode, waited.summary["attempts"]) == (2, 1), waited.stderr
    assert waited.summary["last_error"] == f"kubeconfig {empty} is empty"
