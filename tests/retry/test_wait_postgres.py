"""`wait postgres` against a real PostgreSQL with password authentication and TLS."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator

import pytest

from tests.retry.services import (
    FAST,
    PG_PASSWORD,
    Postgres,
    finish,
    first_failure,
    free_port,
    make_tls,
    postgres_cluster,
    run_wait,
    start_wait,
    terminate_after_first_attempt,
)

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def cluster() -> Iterator[Postgres]:
    with postgres_cluster() as made:
        yield made


@pytest.fixture
def port(cluster: Postgres) -> Iterator[int]:
    chosen = free_port()
    yield chosen
    cluster.stop()


def dsn(port: int, *, password: str = PG_PASSWORD, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres?{query}"


def test_ready_once_the_server_comes_up_after_the_wait_started(cluster, port):
    process = start_wait("postgres", dsn(port), "--timeout", "20", *FAST)
    first_failure(process)
    cluster.start(port)
    waited = finish(process)
    assert waited.returncode == 0, waited.stderr
    assert waited.summary["outcome"] == "ready"
    assert waited.summary["attempts"] > 1


def test_wrong_password_gives_up_at_the_first_answer(cluster, port):
    cluster.start(port)
    waited = run_wait("postgres", dsn(port, password="wrong"), "--timeout", "20", *FAST)
    assert waited.returncode == 2
    assert waited.summary["attempts"] == 1
    assert "28P01" in str(waited.summary["last_error"])


def test_passwords_never_appear_in_the_output(cluster, port):
    cluster.start(port)
    waited = run_wait("postgres", dsn(port, password="wrong-and-secret"), *FAST)
    everything = waited.stderr + str(waited.summary)
    assert "wrong-and-secret" not in everything
    assert "***" in str(waited.summary["target"])


def test_never_up_ends_with_124_at_the_deadline(port):
    waited = run_wait("postgres", dsn(port), "--timeout", "1.5", *FAST)
    assert waited.returncode == 124
    assert waited.summary["outcome"] == "timeout"
    assert 1.5 <= float(waited.summary["duration_seconds"]) < 2.5


def test_sigterm_ends_the_wait_with_a_summary(port):
    process = start_wait("postgres", dsn(port), "--timeout", "60", *FAST)
    waited = terminate_after_first_attempt(process)
    assert waited.returncode == 143
    assert waited.summary["outcome"] == "terminated"
    assert waited.summary["attempts"] >= 1


def test_libpq_environment_is_used_without_a_dsn(cluster, port):
    cluster.start(port)
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "postgres",
           "PGPASSWORD": PG_PASSWORD, "PGDATABASE": "postgres", "PGSSLMODE": "require"}
    waited = run_wait("postgres", *FAST, env=env)
    assert waited.returncode == 0, waited.stderr
    assert waited.summary["target"] == f"postgresql://postgres@127.0.0.1:{port}/postgres"


@pytest.mark.parametrize("mode", ["disable", "prefer", "require"])
def test_unverified_modes_connect(cluster, port, mode):
    cluster.start(port)
    waited = run_wait("postgres", dsn(port, sslmode=mode), *FAST)
    assert waited.returncode == 0, waited.stderr


def test_verify_full_accepts_a_certificate_from_the_given_ca(cluster, port):
    cluster.start(port)
    waited = run_wait("postgres", dsn(port, sslmode="verify-full", sslrootcert=str(cluster.tls.ca)),
                      *FAST)
    assert waited.returncode == 0, waited.stderr


def test_verification_against_another_ca_fails_fast(cluster, port, tmp_path):
    cluster.start(port)
    stranger = make_tls(tmp_path / "other")
    for mode in ("verify-ca", "verify-full", "require"):
        waited = run_wait("postgres", dsn(port, sslmode=mode, sslrootcert=str(stranger.ca)),
                          *FAST)
        assert (waited.returncode, waited.summary["attempts"]) == (2, 1), mode
        assert "verif" in str(waited.summary["last_error"]).lower()


def test_require_fails_against_a_server_without_tls_while_prefer_falls_back(cluster, port):
    cluster.start(port, ssl=False)
    preferred = run_wait("postgres", dsn(port, sslmode="prefer"), *FAST)
    required = run_wait("postgres", dsn(port, sslmode="require"), "--timeout", "1", *FAST)
    assert preferred.returncode == 0, preferred.stderr
    assert required.returncode != 0


def test_a_primary_satisfies_require_primary(cluster, port):
    cluster.start(port)
    waited = run_wait("postgres", dsn(port), "--require-primary", *FAST)
    assert waited.returncode == 0, waited.stderr


def test_connect_timeout_in_the_dsn_is_not_sent_to_the_server(cluster, port):
    cluster.start(port)
    waited = run_wait("postgres", dsn(port, connect_timeout="5", application_name="w"), *FAST)
    assert waited.returncode == 0, waited.stderr


def test_an_unknown_sslmode_is_a_usage_error(port):
    waited = run_wait("postgres", dsn(port, sslmode="sometimes"))
    assert waited.returncode == 2
    assert waited.summary["attempts"] == 0


def test_sigterm_is_prompt_even_during_a_long_backoff(port):
    process = start_wait("postgres", dsn(port), "--base-delay", "30", "--no-jitter")
    first_failure(process)
    process.send_signal(signal.SIGTERM)
    waited = finish(process, timeout=3)
    assert waited.summary["outcome"] == "terminated"


def test_a_standby_does_not_satisfy_require_primary(cluster, port):
    signal_file = cluster.data / "standby.signal"
    signal_file.write_text("")
    os.chown(signal_file, cluster.data.stat().st_uid, -1)
    try:
        cluster.start(port)
        standby = run_wait("postgres", dsn(port), "--require-primary", "--timeout", "1.5", *FAST)
        plain = run_wait("postgres", dsn(port), *FAST)
    finally:
        cluster.stop()
        signal_file.unlink()
    assert standby.returncode == 124
    assert "recovery" in str(standby.summary["last_error"]), standby.stderr
    assert plain.returncode == 0, plain.stderr


def test_an_attempt_cut_short_by_connect_timeout_is_retried_until_the_deadline():
    # A server that accepts the TCP connection and never answers: each attempt ends after
    # connect_timeout (2 s), well inside its 10 s budget; only the 7 s deadline ends the wait.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        waited = run_wait("postgres", dsn(port, connect_timeout="2"), "--timeout", "7",
                          "--attempt-timeout", "10", *FAST)
    failures = [json.loads(line) for line in waited.stderr.splitlines()
                if '"attempt failed"' in line]
    assert waited.summary["outcome"] == "timeout"
    assert waited.summary["attempts"] >= 3
    assert float(waited.summary["duration_seconds"]) >= 6.5
    assert all("after 2" in failure["error"] for failure in failures), failures


def test_a_keyword_dsn_with_several_hosts_tries_each_in_turn(cluster, port):
    cluster.start(port)
    down = free_port()
    waited = run_wait("postgres", f"host=127.0.0.1,127.0.0.1 port={down},{port} user=postgres "
                      f"password={PG_PASSWORD} dbname=postgres", *FAST)
    assert waited.returncode == 0, waited.stderr
    assert waited.summary["target"] == (
        f"postgresql://postgres@127.0.0.1:{down},127.0.0.1:{port}/postgres")


@pytest.mark.parametrize(("target", "says"), [
    ("postgresql://u:pw@:notaport/db", "port"),
    ("mysql://u:pw@127.0.0.1:3306/db", "postgresql://"),
    ("host=127.0.0.1 port=fifty", "port"),
])
def test_a_malformed_target_or_another_scheme_is_a_usage_error_at_once(target, says):
    waited = run_wait("postgres", target, "--timeout", "20", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (2, 0), waited.stderr
    assert says in str(waited.summary["last_error"])
    assert "pw" not in json.dumps(waited.summary).replace("postgresql", "")


def test_libpq_passfile_target_session_attrs_and_application_name_are_understood(
        cluster, port, tmp_path):
    cluster.start(port)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{port}:*:postgres:{PG_PASSWORD}\n")
    passfile.chmod(0o600)
    base = f"host=127.0.0.1 port={port} user=postgres dbname=postgres passfile={passfile}"
    primary = run_wait("postgres", f"{base} target_session_attrs=read-write "
                       "application_name=migrations", *FAST)
    standby = run_wait("postgres", f"{base} target_session_attrs=standby", "--timeout", "1.5",
                       *FAST)
    assert primary.returncode == 0, primary.stderr
    assert standby.returncode == 124, standby.stderr
