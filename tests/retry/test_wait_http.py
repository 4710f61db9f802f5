"""`wait http` against a local aiohttp server, plain and with TLS."""

from __future__ import annotations

import pytest

from tests.retry.services import (
    FAST,
    finish,
    first_failure,
    make_tls,
    run_wait,
    start_http,
    start_wait,
    stop,
    terminate_after_first_attempt,
)


@pytest.fixture
def server(port):
    process = start_http(port)
    yield process
    stop(process)


@pytest.fixture
def tls(tmp_path):
    return make_tls(tmp_path / "tls")


@pytest.fixture
def tls_server(port, tls):
    process = start_http(port, tls=tls)
    yield process
    stop(process)


def test_ready_once_the_server_comes_up_after_the_wait_started(port):
    process = start_wait("http", f"http://127.0.0.1:{port}/health", "--timeout", "20", *FAST)
    first_failure(process)
    server = start_http(port)
    try:
        waited = finish(process)
    finally:
        stop(server)
    assert waited.returncode == 0, waited.stderr
    assert waited.summary["attempts"] > 1


def test_json_values_and_body_patterns_are_checked(server, port):
    waited = run_wait("http", f"http://127.0.0.1:{port}/health", "--json", "status=ok",
                      "--json", "checks.database.up=true", "--body-regex", '"ok"', *FAST)
    assert waited.returncode == 0, waited.stderr


def test_a_wrong_json_value_is_retried_until_the_deadline(server, port):
    waited = run_wait("http", f"http://127.0.0.1:{port}/health", "--json", "status=starting",
                      "--timeout", "1", *FAST)
    assert waited.returncode == 124
    assert "status" in str(waited.summary["last_error"])


def test_an_unexpected_status_is_retried_and_an_accepted_one_passes(server, port):
    refused = run_wait("http", f"http://127.0.0.1:{port}/starting", "--timeout", "1", *FAST)
    accepted = run_wait("http", f"http://127.0.0.1:{port}/starting", "--status", "200,500-599",
                        *FAST)
    assert refused.returncode == 124
    assert "503" in str(refused.summary["last_error"])
    assert accepted.returncode == 0


def test_redirects_are_followed_unless_told_not_to(server, port):
    followed = run_wait("http", f"http://127.0.0.1:{port}/moved", *FAST)
    judged = run_wait("http", f"http://127.0.0.1:{port}/moved", "--no-redirects",
                      "--status", "302", *FAST)
    assert (followed.returncode, judged.returncode) == (0, 0)


def test_headers_are_sent(server, port):
    waited = run_wait("http", f"http://127.0.0.1:{port}/private", "--header", "X-Token: letmein",
                      *FAST)
    assert waited.returncode == 0, waited.stderr


def test_a_certificate_from_the_given_ca_is_accepted(tls_server, port, tls):
    waited = run_wait("http", f"https://localhost:{port}/health", "--ca-file", str(tls.ca), *FAST)
    assert waited.returncode == 0, waited.stderr


def test_an_unverifiable_certificate_gives_up_at_the_first_answer(tls_server, port):
    waited = run_wait("http", f"https://localhost:{port}/health", "--timeout", "20", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (2, 1), waited.stderr


def test_insecure_skips_verification(tls_server, port):
    waited = run_wait("http", f"https://localhost:{port}/health", "--insecure", *FAST)
    assert waited.returncode == 0, waited.stderr


def test_never_up_ends_with_124_at_the_deadline(port):
    waited = run_wait("http", f"http://127.0.0.1:{port}/health", "--timeout", "1.5", *FAST)
    assert waited.returncode == 124
    assert 1.5 <= float(waited.summary["duration_seconds"]) < 2.5


def test_sigterm_ends_the_wait_with_a_summary(port):
    waited = terminate_after_first_attempt(
        start_wait("http", f"http://127.0.0.1:{port}/health", "--timeout", "60", *FAST))
    assert (waited.returncode, waited.summary["outcome"]) == (1, "terminated")
