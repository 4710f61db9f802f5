"""Which driver failures are retried and which end the wait (exit 2)."""

from __future__ import annotations

import asyncio

import pytest
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode
from redis import exceptions as redis_errors

from gitops_lifecycle.retry import engine
from gitops_lifecycle.retry.checks import mqtt, redis
from gitops_lifecycle.retry.errors import NotReady, NotRetryable
from gitops_lifecycle.settings import RetryPolicy


@pytest.mark.parametrize(("error", "kind"), [
    (redis_errors.BusyLoadingError("LOADING Redis is loading the dataset in memory"), NotReady),
    (redis_errors.ConnectionError("Connection refused"), NotReady),
    (redis_errors.ResponseError("NOAUTH Authentication required."), NotRetryable),
    (redis_errors.ResponseError("WRONGPASS invalid username-password pair"), NotRetryable),
    (redis_errors.ConnectionError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
     NotRetryable),
])
def test_redis_errors(error, kind):
    assert isinstance(redis._classify(error), kind)


@pytest.mark.parametrize(("code", "kind"), [
    (3, NotReady), (4, NotRetryable), (5, NotRetryable), (2, NotRetryable),
])
def test_mqtt_311_connack_codes(code, kind):
    assert isinstance(mqtt._classify(MqttConnectError(code)), kind)


@pytest.mark.parametrize(("name", "kind"), [
    ("Server unavailable", NotReady), ("Server busy", NotReady),
    ("Bad user name or password", NotRetryable), ("Not authorized", NotRetryable),
])
def test_mqtt_5_reason_codes(name, kind):
    reason = ReasonCode(2, name)  # packet type 2: CONNACK
    assert isinstance(mqtt._classify(MqttConnectError(reason)), kind)


@pytest.mark.looptime
async def test_an_attempt_cut_short_by_the_deadline_keeps_the_previous_error():
    calls = []

    async def slow_then_refused(budget: float) -> None:
        calls.append(budget)
        if len(calls) == 1:
            raise NotReady("refused")
        await asyncio.sleep(3600)

    policy = RetryPolicy(timeout=10, attempt_timeout=60, base_delay=1, jitter=False)
    result = await engine.run(slow_then_refused, policy=policy)
    assert (result.outcome, result.last_error, result.attempts) == (engine.TIMEOUT, "refused", 2)
