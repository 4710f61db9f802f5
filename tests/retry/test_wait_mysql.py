"""`wait mysql` against a real MariaDB (Debian's mariadb-server) with password authentication."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.retry.services import (
    FAST,
    MYSQL_PASSWORD,
    MYSQL_USER,
    Mariadb,
    finish,
    first_failure,
    free_port,
    mariadb_server,
    run_wait,
    start_wait,
)

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def server() -> Iterator[Mariadb]:
    with mariadb_server() as made:
        yield made


@pytest.fixture
def port(server: Mariadb) -> Iterator[int]:
    chosen = free_port()
    yield chosen
    server.stop()


def url(port: int, password: str = MYSQL_PASSWORD) -> str:
    return f"mysql://{MYSQL_USER}:{password}@127.0.0.1:{port}/mysql"


def test_ready_once_the_server_comes_up_after_the_wait_started(server, port):
    process = start_wait("mysql", url(port), "--timeout", "60", *FAST)
    first_failure(process)
    server.start(port)
    waited = finish(process, timeout=60)
    assert waited.returncode == 0, waited.stderr
    assert waited.summary["attempts"] > 1
    assert waited.summary["target"] == f"mysql://{MYSQL_USER}:***@127.0.0.1:{port}/mysql"


def test_wrong_password_gives_up_at_the_first_answer(server, port):
    server.start(port)
    waited = run_wait("mysql", url(port, password="not-it"), "--timeout", "20", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (2, 1), waited.stderr
    assert "1045" in str(waited.summary["last_error"])
    assert "not-it" not in str(waited.summary) + waited.stderr


def test_never_up_ends_with_124_at_the_deadline(port):
    waited = run_wait("mysql", url(port), "--timeout", "1.5", *FAST)
    assert waited.returncode == 124


def test_another_scheme_is_a_usage_error():
    waited = run_wait("mysql", "postgresql://u:p@127.0.0.1/db")
    assert (waited.returncode, waited.summary["attempts"]) == (2, 0)
