"""`wait redis` against a real redis-server with a password and an ACL user."""

from __future__ import annotations

import pytest

from tests.retry.services import (
    FAST,
    REDIS_PASSWORD,
    client_certificate,
    finish,
    first_failure,
    make_tls,
    run_wait,
    start_redis,
    start_redis_tls,
    start_wait,
    stop,
    terminate_after_first_attempt,
)

pytestmark = pytest.mark.services


@pytest.fixture
def server(port):
    process = start_redis(port)
    yield process
    stop(process)


def test_ready_once_the_server_comes_up_after_the_wait_started(port):
    process = start_wait("redis", f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0",
                         "--timeout", "20", *FAST)
    first_failure(process)
    server = start_redis(port)
    try:
        waited = finish(process)
    finally:
        stop(server)
    assert waited.returncode == 0, waited.stderr
    assert waited.summary["attempts"] > 1


def test_an_acl_user_and_password_are_accepted(server, port):
    waited = run_wait("redis", f"redis://app:{REDIS_PASSWORD}@127.0.0.1:{port}", *FAST)
    assert waited.returncode == 0, waited.stderr


def test_wrong_password_gives_up_at_the_first_answer(server, port):
    waited = run_wait("redis", f"redis://app:wrong@127.0.0.1:{port}", "--timeout", "20", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (2, 1)
    assert "wrong" not in str(waited.summary) + waited.stderr.replace("WRONGPASS", "")


def test_no_password_gives_up_at_the_first_answer(server, port):
    waited = run_wait("redis", f"redis://127.0.0.1:{port}", "--timeout", "20", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (2, 1)
    assert "requires a password" in str(waited.summary["last_error"])


def test_a_user_not_allowed_to_ping_gives_up_at_the_first_answer(server, port):
    waited = run_wait("redis", f"redis://noping:{REDIS_PASSWORD}@127.0.0.1:{port}",
                      "--timeout", "20", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (2, 1), waited.stderr
    assert "ping" in str(waited.summary["last_error"])


def test_never_up_ends_with_124_at_the_deadline(port):
    waited = run_wait("redis", f"redis://127.0.0.1:{port}", "--timeout", "1.5", *FAST)
    assert waited.returncode == 124
    assert 1.5 <= float(waited.summary["duration_seconds"]) < 2.5


def test_sigterm_ends_the_wait_with_a_summary(port):
    waited = terminate_after_first_attempt(
        start_wait("redis", f"redis://127.0.0.1:{port}", "--timeout", "60", *FAST))
    assert (waited.returncode, waited.summary["outcome"]) == (143, "terminated")


def test_a_client_certificate_is_presented_for_mutual_tls(tmp_path, port):
    tls = make_tls(tmp_path / "tls")
    cert, key = client_certificate(tls, tmp_path / "client")
    server = start_redis_tls(port, tls)
    try:
        waited = run_wait("redis", f"rediss://localhost:{port}", "--ca-file", str(tls.ca),
                          "--cert-file", str(cert), "--key-file", str(key), *FAST)
    finally:
        stop(server)
    assert waited.returncode == 0, waited.stderr
