"""`wait mqtt` against a real Mosquitto with a password file."""

from __future__ import annotations

import pytest

from tests.retry.services import (
    FAST,
    MQTT_PASSWORD,
    MQTT_USER,
    client_certificate,
    finish,
    first_failure,
    make_tls,
    mosquitto_config,
    mosquitto_tls_config,
    run_wait,
    start_mosquitto,
    start_wait,
    stop,
    terminate_after_first_attempt,
)

pytestmark = pytest.mark.services


@pytest.fixture
def config(tmp_path, port):
    return mosquitto_config(tmp_path, port)


@pytest.fixture
def broker(config, port):
    process = start_mosquitto(config, port)
    yield process
    stop(process)


def url(port, user=MQTT_USER, password=MQTT_PASSWORD):
    return f"mqtt://{user}:{password}@127.0.0.1:{port}"


def test_ready_once_the_broker_comes_up_after_the_wait_started(config, port):
    process = start_wait("mqtt", url(port), "--timeout", "20", *FAST)
    first_failure(process)
    broker = start_mosquitto(config, port)
    try:
        waited = finish(process)
    finally:
        stop(broker)
    assert waited.returncode == 0, waited.stderr
    assert waited.summary["attempts"] > 1


def test_wrong_password_gives_up_at_the_first_answer(broker, port):
    waited = run_wait("mqtt", url(port, password="not-it"), "--timeout", "20", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (2, 1), waited.stderr
    assert "not-it" not in str(waited.summary) + waited.stderr


def test_anonymous_is_refused_at_the_first_answer(broker, port):
    waited = run_wait("mqtt", f"mqtt://127.0.0.1:{port}", "--timeout", "20", *FAST)
    assert (waited.returncode, waited.summary["attempts"]) == (2, 1), waited.stderr


def test_never_up_ends_with_124_at_the_deadline(port):
    waited = run_wait("mqtt", url(port), "--timeout", "1.5", *FAST)
    assert waited.returncode == 124
    assert 1.5 <= float(waited.summary["duration_seconds"]) < 2.5


def test_sigterm_ends_the_wait_with_a_summary(port):
    waited = terminate_after_first_attempt(
        start_wait("mqtt", url(port), "--timeout", "60", *FAST))
    assert (waited.returncode, waited.summary["outcome"]) == (143, "terminated")


def test_mqtt_5_connects_and_a_wrong_password_still_gives_up_at_once(broker, port):
    ready = run_wait("mqtt", url(port), "--mqtt-version", "5", *FAST)
    refused = run_wait("mqtt", url(port, password="not-it"), "--mqtt-version", "5", *FAST)
    assert ready.returncode == 0, ready.stderr
    assert (refused.returncode, refused.summary["attempts"]) == (2, 1), refused.stderr


def test_a_client_certificate_is_presented_for_mutual_tls(tmp_path, port):
    tls = make_tls(tmp_path / "tls")
    cert, key = client_certificate(tls, tmp_path / "client")
    broker = start_mosquitto(mosquitto_tls_config(tmp_path, port, tls), port)
    try:
        waited = run_wait("mqtt", f"mqtts://localhost:{port}", "--ca-file", str(tls.ca),
                          "--cert-file", str(cert), "--key-file", str(key), *FAST)
    finally:
        stop(broker)
    assert waited.returncode == 0, waited.stderr
