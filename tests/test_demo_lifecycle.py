"""The demo shows a real lifecycle: a Job applied with kubectl runs, finishes, and the TTL
controller deletes it when its ttlSecondsAfterFinished has passed — in simulated time."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
SPEED = 60
JOB = """apiVersion: batch/v1
kind: Job
metadata: {name: hello, namespace: default}
spec:
  ttlSecondsAfterFinished: 120
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: [sh, -c, "echo hello; sleep 30"]}]
"""


async def _kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    assert KUBECTL is not None
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "--kubeconfig", str(kubeconfig), *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_job_applied_with_kubectl_runs_finishes_and_goes_at_its_ttl(
    tmp_path: Path,
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    env = {**os.environ, "GITOPS_LIFECYCLE_SERVER__PORT": "0"}
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitops_lifecycle", "demo", "--speed", str(SPEED),
        "--duration", "10m", "--kubeconfig-out", str(kubeconfig), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert demo.stdout is not None
    try:
        while not kubeconfig.exists():
            await asyncio.sleep(0.1)
        await asyncio.wait_for(demo.stdout.readline(), 30)
        applied = await _kubectl(kubeconfig, "apply", "-f", "-", stdin=JOB)
        await _kubectl(kubeconfig, "wait", "--for=condition=complete", "job/hello",
                       "--timeout=60s")
        done = await _kubectl(kubeconfig, "get", "job", "hello", "-o",
                              "jsonpath={.status.succeeded} {.status.startTime} "
                              "{.status.completionTime}")
        pods = await _kubectl(kubeconfig, "get", "pods", "-l", "job-name=hello", "-o",
                              "jsonpath={.items[*].status.phase}")
        await _kubectl(kubeconfig, "wait", "--for=delete", "job/hello", "--timeout=60s")
        left = await _kubectl(kubeconfig, "get", "jobs,pods", "-n", "default", "-o", "name")
    finally:
        demo.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(demo.communicate(), 30)
    succeeded, started, completed = done.split()
    assert applied.strip() == "job.batch/hello created"
    assert succeeded == "1"
    assert pods == "Succeeded"
    # 30 simulated seconds of sleep, and the moments a busy machine takes to start the pod
    assert 30 <= _seconds(completed) - _seconds(started) <= 40
    assert left == ""
    assert "deleted Job default/hello (finished 2m ago)" in out.decode()


def _seconds(stamp: str) -> float:
    from gitops_lifecycle.clock import parse_time

    seconds = parse_time(stamp)
    assert seconds is not None
    return seconds
