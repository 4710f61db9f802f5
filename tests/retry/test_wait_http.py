"""`wait http` against a local aiohttp server, plain and with TLS."""

from __future__ import annotations

import json

import pytest

from tests.retry.services import (
    FAST,
    client_certificate,
    finish,
    first_failure,
    free_port,
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
    assert waited.summary["last_error"] is None


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
    assert (waited.returncode, waited.summary["outcome"]) == (143, "terminated")


def test_an_endless_body_is_not_read_when_no_body_check_asks(server, port):
    waited = run_wait("http", f"http://127.0.0.1:{port}/events", "--attempt-timeout", "3",
                      "--timeout", "10", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (0, 1), waited.stderr
    assert float(waited.summary["duration_seconds"]) < 2


def test_a_body_check_reads_no_more_than_the_limit(server, port):
    found = run_wait("http", f"http://127.0.0.1:{port}/events", "--body-regex", "data: ready",
                     "--attempt-timeout", "3", "--timeout", "10", *FAST)
    beyond = run_wait("http", f"http://127.0.0.1:{port}/events", "--body-regex", "never",
                      "--max-body", "100000", "--attempt-timeout", "3", *FAST,
                      "--max-attempts", "1")
    assert found.returncode == 0, found.stderr
    assert float(found.summary["duration_seconds"]) < 2
    assert beyond.returncode == 1
    assert "first 100000 bytes" in str(beyond.summary["last_error"])
    assert float(beyond.summary["duration_seconds"]) < 2


def test_a_redirect_loop_is_reported_in_words(server, port):
    waited = run_wait("http", f"http://127.0.0.1:{port}/loop", *FAST, "--max-attempts", "1")
    assert waited.returncode == 1
    assert "too many redirects" in str(waited.summary["last_error"])


def test_json_values_compare_as_json_and_an_unquoted_value_also_as_text(server, port):
    url = f"http://127.0.0.1:{port}/version"
    as_text = run_wait("http", url, "--json", "version=1.0", "--json", "build=7", *FAST)
    quoted = run_wait("http", url, "--json", 'version="1.0"', *FAST)
    number = run_wait("http", url, "--json", 'build="7"', *FAST, "--max-attempts", "1")
    assert (as_text.returncode, quoted.returncode) == (0, 0), as_text.stderr + quoted.stderr
    assert number.returncode == 1


def test_credentials_in_the_query_string_never_appear_in_the_output(port):
    url = (f"http://127.0.0.1:{port}/health?token=tok-s3cr3t&access_token=acc-s3cr3t"
           "&apikey=key-s3cr3t&sig=sig-s3cr3t&page=2")
    waited = run_wait("http", url, *FAST, "--max-attempts", "2")
    everything = waited.stderr + json.dumps(waited.summary)
    assert "s3cr3t" not in everything
    assert "page=2" in str(waited.summary["target"])


def test_a_negative_timeout_is_a_usage_error_that_says_so(port):
    waited = run_wait("http", f"http://127.0.0.1:{port}/health", "--timeout", "-3s")
    assert waited.returncode == 2
    assert "--timeout" in waited.stderr
    assert "-3s" in waited.stderr


def test_http_proxy_from_the_environment_is_used(server, port):
    # The test server answers absolute-form requests too, so it can stand in for a proxy:
    # the host in the URL does not resolve, and only a request through the proxy can pass.
    waited = run_wait("http", "http://service.invalid/health", *FAST, "--max-attempts", "1",
                      env={"HTTP_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": ""})
    assert waited.returncode == 0, waited.stderr


def test_no_proxy_hosts_are_reached_directly(server, port):
    waited = run_wait("http", f"http://127.0.0.1:{port}/health", *FAST, "--max-attempts", "1",
                      env={"HTTP_PROXY": f"http://127.0.0.1:{free_port()}",
                           "NO_PROXY": "localhost,127.0.0.1"})
    assert waited.returncode == 0, waited.stderr


def test_expected_response_headers_are_checked(server, port):
    url = f"http://127.0.0.1:{port}/version"
    present = run_wait("http", url, "--expect-header", "X-Ready=^yes$", "--expect-header",
                       "content-type=json", *FAST)
    absent = run_wait("http", url, "--expect-header", "X-Missing", *FAST, "--max-attempts", "1")
    wrong = run_wait("http", url, "--expect-header", "X-Api-Version=^3", *FAST,
                     "--max-attempts", "1")
    assert present.returncode == 0, present.stderr
    assert "no X-Missing header" in str(absent.summary["last_error"])
    assert "X-Api-Version: '2' does not match '^3'" in str(wrong.summary["last_error"])


def test_a_client_certificate_is_presented_for_mutual_tls(port, tls, tmp_path):
    cert, key = client_certificate(tls, tmp_path / "client")
    server = start_http(port, tls=tls, client_ca=tls.ca)
    try:
        with_cert = run_wait("http", f"https://localhost:{port}/health", "--ca-file", str(tls.ca),
                             "--cert-file", str(cert), "--key-file", str(key), *FAST)
        without = run_wait("http", f"https://localhost:{port}/health", "--ca-file", str(tls.ca),
                           *FAST, "--max-attempts", "1")
    finally:
        stop(server)
    assert with_cert.returncode == 0, with_cert.stderr
    assert without.returncode != 0
