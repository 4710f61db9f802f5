"""`wait dns` through the system's resolver."""

from __future__ import annotations

from tests.retry.services import FAST, run_wait


def test_a_name_that_resolves_is_ready():
    waited = run_wait("dns", "localhost", "--expect", "127.0.0.1", *FAST)
    assert (waited.returncode, waited.summary["target"]) == (0, "localhost"), waited.stderr


def test_a_name_that_does_not_resolve_yet_is_waited_for():
    waited = run_wait("dns", "db.wait-test.invalid", "--timeout", "1", *FAST)
    assert waited.returncode == 124
    assert "db.wait-test.invalid" in str(waited.summary["last_error"])


def test_an_address_not_among_the_answers_is_waited_for():
    waited = run_wait("dns", "localhost", "--type", "a", "--expect", "10.9.8.7", "--timeout", "1",
                      *FAST)
    assert waited.returncode == 124
    assert "not 10.9.8.7" in str(waited.summary["last_error"])


def test_a_bad_expected_address_is_a_usage_error():
    waited = run_wait("dns", "localhost", "--expect", "not-an-ip")
    assert (waited.returncode, waited.summary["attempts"]) == (2, 0)
