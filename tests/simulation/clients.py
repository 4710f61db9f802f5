"""Clients this project did not write, pointed at the simulated cluster: kubectl, mostly."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


@dataclass(frozen=True)
class Run:
    """What a kubectl command did."""

    code: int
    out: str
    err: str


async def kubectl_run(kubeconfig: Path, *args: str, stdin: str | None = None) -> Run:
    """Run kubectl against the cluster of `kubeconfig` (no cache, so nothing is stale)."""
    assert KUBECTL is not None
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir",
        str(kubeconfig.parent / "kubectl-cache"), *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(
        process.communicate(None if stdin is None else stdin.encode()), 60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    """kubectl's output; the test fails with its error output if it fails."""
    run = await kubectl_run(kubeconfig, *args, stdin=stdin)
    assert run.code == 0, run.err
    return run.out
