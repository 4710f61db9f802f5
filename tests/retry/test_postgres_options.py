"""How `wait postgres` reads DSNs, the libpq environment, sslmode and SQLSTATEs."""

from __future__ import annotations

import ssl

import pytest

from gitops_lifecycle.retry.checks import pgtls, postgres
from gitops_lifecycle.retry.errors import NotReady, NotRetryable


def test_libpq_parameters_are_taken_out_of_a_url_dsn():
    options = postgres.parse(
        "postgresql://u:p@db:5433/app?sslmode=verify-full&connect_timeout=7&application_name=x",
        {},
    )
    assert options.connect == {"dsn": "postgresql://u:p@db:5433/app?application_name=x"}
    assert options.params == {"sslmode": "verify-full", "connect_timeout": "7"}


def test_keyword_dsns_and_the_environment_fill_in_what_is_missing():
    options = postgres.parse("host=db dbname=app sslmode=require",
                             {"PGUSER": "svc", "PGSSLROOTCERT": "/ca.crt", "PGSSLMODE": "disable"})
    assert options.connect == {"host": "db", "database": "app"}
    assert options.params == {"sslmode": "require", "sslrootcert": "/ca.crt"}
    assert options.target == "postgresql://svc@db:5432/app"


@pytest.mark.parametrize(("text", "seconds"), [(None, None), ("0", None), ("1", 2.0),
                                                 ("10", 10.0)])
def test_connect_timeout_follows_libpq(text, seconds):
    assert postgres._connect_timeout(text) == seconds


def test_a_connect_timeout_that_is_not_a_number_is_a_usage_error():
    with pytest.raises(NotRetryable):
        postgres._connect_timeout("soon")


class FakePostgresError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"server said {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("state", "kind"), [
    ("57P03", NotReady), ("53300", NotReady), ("3D000", NotReady),
    ("28P01", NotRetryable), ("28000", NotRetryable),
])
def test_sqlstates_are_retried_unless_the_credentials_are_refused(state, kind):
    assert isinstance(postgres._classify(FakePostgresError(state)), kind)


def test_sslmodes_mean_what_they_mean_in_libpq(tmp_path):
    assert pgtls.context("disable", {}) is None
    for mode in ("prefer", "require"):
        context = pgtls.context(mode, {"sslrootcert": str(tmp_path / "absent.crt")})
        assert context is not None
        assert (context.verify_mode, context.check_hostname) == (ssl.CERT_NONE, False)
    system = {"sslrootcert": "system"}
    verify_ca = pgtls.context("verify-ca", system)
    verify_full = pgtls.context("verify-full", system)
    require_with_root = pgtls.context("require", system)
    assert verify_ca is not None
    assert verify_full is not None
    assert require_with_root is not None
    assert (verify_ca.verify_mode, verify_ca.check_hostname) == (ssl.CERT_REQUIRED, False)
    assert (verify_full.verify_mode, verify_full.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert require_with_root.verify_mode == ssl.CERT_REQUIRED


def test_verification_without_a_root_certificate_is_a_usage_error(tmp_path):
    with pytest.raises(NotRetryable, match="does not exist"):
        pgtls.context("verify-full", {"sslrootcert": str(tmp_path / "absent.crt")})
    with pytest.raises(NotRetryable, match="sslmode"):
        pgtls.context("allow", {})
