"""The `wait` command itself: settings layering, exit codes, the summary, `wait tcp`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from gitops_lifecycle import cli
from gitops_lifecycle.retry import commands
from gitops_lifecycle.retry.waitsettings import WaitSettings
from gitops_lifecycle.settings import load
from tests.retry.services import (
    free_port,
    run_wait,
    start_wait,
    terminate_after_first_attempt,
    wait_env,
)

FAST = ("--base-delay", "0.1", "--max-delay", "0.3")
MANY = ("--max-attempts", "100")


def parsed(*argv: str):
    return cli.parser().parse_args(["wait", *argv])


def test_flags_override_the_service_settings_which_override_the_defaults():
    settings = WaitSettings.of(load(overrides={"retry": {
        "defaults": {"maxAttempts": 3, "baseDelay": "1s"},
        "services": {"database": {"maxAttempts": 7, "timeout": "2m"}},
    }}))
    args = parsed("postgres", "--max-delay", "5s", "--no-jitter")
    policy = commands.policy_for(settings, "database", args)
    assert (policy.max_attempts, policy.timeout, policy.base_delay) == (7, 120, 1)
    assert (policy.max_delay, policy.jitter) == (5, False)


def test_common_options_work_after_the_check_name():
    args = parsed("tcp", "localhost:1", "--log-level", "debug", "--set", "a=b")
    assert (args.log_level, args.sets) == ("debug", ["a=b"])


@pytest.mark.parametrize("check", commands.CHECKS)
def test_each_check_documents_itself(check, capsys):
    with pytest.raises(SystemExit) as exited:
        parsed(check, "--help")
    assert exited.value.code == 0
    assert "--timeout" in capsys.readouterr().out


def test_tcp_is_ready_when_every_address_accepts():
    with (
        socket.create_server(("127.0.0.1", 0)) as one,
        socket.create_server(("127.0.0.1", 0)) as two,
    ):
        ports = [s.getsockname()[1] for s in (one, two)]
        waited = run_wait("tcp", *(f"127.0.0.1:{p}" for p in ports), *FAST)
    assert waited.returncode == 0, waited.stderr
    assert waited.summary == {
        "check": "tcp", "target": f"127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}", "attempts": 1,
        "duration_seconds": waited.summary["duration_seconds"], "outcome": "ready",
        "last_error": None,
    }


def test_tcp_waits_for_all_addresses_and_names_the_missing_one():
    closed = free_port()
    with socket.create_server(("127.0.0.1", 0)) as one:
        port = one.getsockname()[1]
        waited = run_wait("tcp", f"127.0.0.1:{port}", f"127.0.0.1:{closed}", "--timeout", "1",
                          *FAST, *MANY)
    assert waited.returncode == 124
    assert f"127.0.0.1:{closed}" in str(waited.summary["last_error"])
    assert f"127.0.0.1:{port}:" not in str(waited.summary["last_error"])


def test_running_out_of_attempts_exits_1_and_a_bad_address_exits_2():
    exhausted = run_wait("tcp", f"127.0.0.1:{free_port()}", "--max-attempts", "2", *FAST)
    usage = run_wait("tcp", "no-port-here")
    assert (exhausted.returncode, exhausted.summary["outcome"]) == (1, "attempts_exhausted")
    assert (usage.returncode, usage.summary["outcome"]) == (2, "not_retryable")


def test_an_unreachable_attempt_count_is_announced_once_at_start():
    waited = run_wait("tcp", f"127.0.0.1:{free_port()}", "--timeout", "0.5", "--max-attempts", "50",
                      *FAST)
    warnings = [line for line in waited.stderr.splitlines() if "cannot be reached" in line]
    assert len(warnings) == 1
    assert json.loads(warnings[0])["max_attempts"] == 50


def test_a_log_line_per_attempt_and_the_summary_in_the_termination_log(tmp_path):
    path = tmp_path / "termination"
    waited = run_wait("tcp", f"127.0.0.1:{free_port()}", "--max-attempts", "3",
                      "--termination-log", str(path), *FAST)
    events = [json.loads(line)["event"] for line in waited.stderr.splitlines()]
    assert events.count("attempt failed") == 2
    assert events[-1] == "gave up"
    assert json.loads(path.read_text()) == waited.summary


def test_sigterm_ends_a_tcp_wait_with_its_summary():
    waited = terminate_after_first_attempt(
        start_wait("tcp", f"127.0.0.1:{free_port()}", "--timeout", "60", *FAST, *MANY))
    assert (waited.returncode, waited.summary["outcome"]) == (143, "terminated")


def test_a_zero_timeout_still_makes_one_attempt():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        waited = run_wait("tcp", f"127.0.0.1:{port}", "--timeout", "0s")
    assert (waited.returncode, waited.summary["attempts"]) == (0, 1), waited.stderr


def help_of(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit):
        parsed(*argv, "--help")
    return " ".join(capsys.readouterr().out.split())


def test_wait_help_lists_the_exit_codes(capsys):
    codes = help_of(capsys).split("exit codes:")[1]
    for line in ("0 ready", "1 attempts exhausted", "2 cannot succeed", "124 deadline",
                 "143 terminated"):
        assert line in codes, line


def test_the_termination_log_is_not_a_retry_option_and_retry_defaults_are_shown(capsys):
    text = help_of(capsys, "tcp")
    retry = text.split("retry:")[1].split("output:")[0]
    assert "--termination-log" not in retry
    assert "--termination-log" in text.split("output:")[1]
    assert "(default: 5m)" in retry
    assert "(default: 10)" in retry


@pytest.mark.parametrize(("check", "words"), [
    ("http", ("--method", "HTTP method", "URL", "http:// or https://")),
    ("tcp", ("HOST:PORT", "[v6]:port")),
    ("k8s", ("-n NAMESPACE", "namespace of the object (default: the kubeconfig context's")),
    ("secret", ("-n NAMESPACE", "namespace of the object (default: the kubeconfig context's")),
])
def test_each_argument_is_explained(capsys, check, words):
    text = help_of(capsys, check)
    for word in words:
        assert word in text, word


@pytest.mark.parametrize("check", ["tcp", "http", "k8s"])
def test_wait_loads_no_http_framework_no_kubernetes_client_and_no_simulation(check):
    # Each costs megabytes an init container does not have (the budget is 48 MiB).
    argv = {"tcp": ["127.0.0.1:1"], "http": ["http://127.0.0.1:1/"],
            "k8s": ["job/x", "-n", "x", "--kubeconfig", "/nonexistent"]}[check]
    code = ("import sys\nfrom gitops_lifecycle.cli import main\n"
            f"code = main(['wait', {check!r}, *{argv!r}, '--timeout', '0', '--log-level', "
            "'error'])\n"
            "heavy = sorted({m.split('.')[0] if not m.startswith('gitops_lifecycle.') else m "
            "for m in sys.modules if m.startswith(('aiohttp', 'kubernetes', "
            "'gitops_lifecycle.simulation.kubeapi', 'gitops_lifecycle.kube.'))})\n"
            "print(heavy, file=sys.stderr)\nsys.exit(3 if heavy else 0)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60, env=wait_env())
    assert done.returncode == 0, done.stderr[-600:]


@pytest.mark.parametrize("argv", [
    ["wait", "tcp", "db:5432", "cache:6379", "--time", "5m", "--no-jitter"],
    ["--log-level", "debug", "wait", "--config", "tcp", "http", "http://x/", "--status", "204"],
    ["wait", "postgres", "postgresql://app@db/app", "--set", "retry.defaults.maxAttempts=3"],
    ["wait", "k8s", "job/migrate", "--for", "condition=Complete", "-n", "apps"],
    ["wait", "secret", "db", "--keys", "a,b", "--max-attempts", "-3"],
])
def test_a_wait_is_parsed_by_its_own_check_alone_as_the_whole_parser_would(argv):
    assert cli.arguments(argv) == cli.parser().parse_args(argv)


@pytest.mark.parametrize("argv", [
    ["wait", "--help"], ["wait", "tcp", "--help"], ["wait", "tcp"], ["wait", "bogus", "x:1"],
    ["wait", "tcp", "x:1", "--timeout", "-3s"], ["wait", "tcp", "x:1", "--bogus"],
    ["run", "wait", "tcp"], ["--version", "wait", "tcp", "x:1"],
])
def test_help_and_usage_errors_of_a_wait_are_those_of_the_whole_parser(argv, capsys):
    with pytest.raises(SystemExit) as whole:
        cli.parser().parse_args(argv)
    expected = capsys.readouterr()
    with pytest.raises(SystemExit) as fast:
        cli.arguments(argv)
    assert (fast.value.code, capsys.readouterr()) == (whole.value.code, expected)
