"""What a new user meets first: the demo, simulate, the CLI's flags and its messages."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle import cli, demo
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import APIConnectionError
from gitops_lifecycle.kube.resources import JOBS
from gitops_lifecycle.settings import KubernetesSettings
from gitops_lifecycle.simulation import SimulatedCluster

COMMAND = [sys.executable, "-m", "gitops_lifecycle"]


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture
def port_8080_taken() -> Iterator[None]:
    """Hold 8080 for the test, unless something else holds it already (taken either way)."""
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", 8080))
            sock.listen()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
        yield


def test_the_demo_runs_with_port_8080_taken_and_says_where_its_metrics_are(
    port_8080_taken: None,
) -> None:
    done = _run("demo", "--duration", "2s", "--speed", "1800")
    assert done.returncode == 0, done.stderr
    metrics = re.search(r"curl -s http://127\.0\.0\.1:(\d+)/metrics", done.stdout)
    assert metrics is not None
    assert metrics.group(1) != "8080"
    assert "kubectl --kubeconfig" in done.stdout


def test_a_demo_whose_daemon_fails_exits_non_zero_and_says_so(port_8080_taken: None) -> None:
    # A long duration: the demo ends as soon as its daemon does, however slow the machine.
    done = _run("demo", "--duration", "120s", "--port", "8080", timeout=150)
    assert done.returncode != 0
    assert "the daemon stopped with exit code" in done.stderr


def test_the_demo_ends_with_a_table_per_policy_that_adds_up_to_the_cluster() -> None:
    # A process of its own: the table reads the daemon's counters, which start at zero there.
    done = _run("demo", "--duration", "2s", "--speed", "3600")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    table = out[out.index("the daemon did this:"):]
    deleted = {row.split()[0]: int(row.split()[1]) for row in table.splitlines()[2:]
               if row.startswith("  ") and row.split()[0] in demo._DELETED}
    jobs_left = int(re.findall(r"cluster now: (\d+) Jobs", out)[-1])
    assert deleted.get("completedJobs", 0) + deleted.get("failedJobs", 0) == 6 - jobs_left
    assert "statefulset pod" in table
    assert "gitops_cleanup_skipped_total" in table
    assert "_created" not in table
    assert len(re.findall(r"cluster now:", table)) == 1
    assert "e+09" not in out


def test_demo_offers_no_cluster_options() -> None:
    demo_help = _run("demo", "--help").stdout
    assert "--kubeconfig " not in demo_help
    assert "--context" not in demo_help
    assert "--port" in demo_help


def test_simulate_names_its_bundled_scenarios_and_starts_with_the_demo_cluster() -> None:
    assert "demo" in _run("simulate", "--help").stdout
    args = cli.parser().parse_args(["simulate"])
    assert args.scenario == "demo"
    assert not args.empty


def test_an_unknown_scenario_is_a_usage_error_that_lists_the_bundled_ones() -> None:
    done = _run("simulate", "--scenario", "no-such-scenario")
    assert done.returncode == 2
    assert "bundled scenarios: demo" in done.stderr


async def test_simulate_serves_a_bundled_scenario_by_name(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = await asyncio.create_subprocess_exec(
        *COMMAND, "simulate", "--scenario", "demo", "--kubeconfig-out", str(kubeconfig),
        stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 30)
        assert first.startswith(b"seeded 28 objects from scenario demo")
    finally:
        process.terminate()
        await process.wait()


def test_version_takes_the_common_flags_and_there_is_a_version_flag() -> None:
    assert _run("version", "--log-level", "debug").returncode == 0
    done = _run("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("gitops-lifecycle ")


def test_check_config_into_a_pipe_that_closes_ends_without_a_traceback() -> None:
    with subprocess.Popen([*COMMAND, "check-config"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, bufsize=1) as process:
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()  # `| head -1`
        process.wait(30)
        assert process.stderr is not None
        stderr = process.stderr.read()
    assert "Traceback" not in stderr
    assert process.returncode in (0, 141)


def test_a_kubeconfig_that_does_not_exist_is_named_and_stops_start_up() -> None:
    done = _run("run", "--kubeconfig", "/nonexistent/kubeconfig")
    assert done.returncode == 2
    assert "kubernetes.kubeconfig: '/nonexistent/kubeconfig' is invalid: no such file" \
        in done.stderr


async def test_an_unreachable_api_server_is_said_in_words_and_counted(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\n")
    before = REGISTRY.get_sample_value("gitops_kubernetes_connection_errors_total") or 0
    async with Kube.from_settings(KubernetesSettings(kubeconfig=kubeconfig)) as kube:
        with pytest.raises(APIConnectionError) as raised:
            await kube.request("GET", JOBS.path(None))
    assert str(raised.value) == \
        f"GET /apis/batch/v1/jobs: cannot connect to 127.0.0.1:{port}: Connection refused"
    assert REGISTRY.get_sample_value("gitops_kubernetes_connection_errors_total") == before + 1


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
async def test_kubectl_describe_shows_the_events_a_scenario_seeds(tmp_path: Path) -> None:
    async with SimulatedCluster(kubelet=False) as sim:
        sim.load_scenario(demo.scenario_text())
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        process = await asyncio.create_subprocess_exec(
            "kubectl", "--kubeconfig", str(kubeconfig), "describe", "job", "nightly-backup",
            "-n", "ops", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    events = out.decode().split("Events:")[1]
    assert "Completed" in events
    with contextlib.suppress(ValueError):
        assert "<none>" not in events.split("\n")[0]
