"""The `wait` subcommands. Imports nothing heavy: each check loads its own driver."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_lifecycle import logs
from gitops_lifecycle.retry import engine
from gitops_lifecycle.retry.errors import NotRetryable
from gitops_lifecycle.retry.schedule import expected_backoff
from gitops_lifecycle.retry.summary import Summary, emit
from gitops_lifecycle.settings import RetryPolicy, Settings, SettingsError, parse_duration

if TYPE_CHECKING:
    from types import ModuleType

    from gitops_lifecycle.retry.checks import Check

CHECKS = ("postgres", "tcp", "redis", "mqtt", "http", "k8s", "secret", "externalsecret")
_MODULES = {"k8s": "kube"}
EXIT_CODES = {
    engine.READY: 0,
    engine.TIMEOUT: 124,
    engine.NOT_RETRYABLE: 2,
}
EXIT_OTHER = 1
_FLAGS = ("max_attempts", "base_delay", "max_delay", "backoff_multiplier", "jitter", "timeout",
          "attempt_timeout")



def _module(check: str) -> ModuleType:
    return importlib.import_module(f"gitops_lifecycle.retry.checks.{_MODULES.get(check, check)}")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _retry_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = options.add_argument_group("retry (default: retry.services.<service>, retry.defaults)")
    group.add_argument("--timeout", type=_duration, help="total deadline, e.g. 5m")
    group.add_argument("--max-attempts", type=int, help="give up after this many attempts")
    group.add_argument("--base-delay", type=_duration, help="first backoff delay")
    group.add_argument("--max-delay", type=_duration, help="longest backoff delay")
    group.add_argument("--backoff-multiplier", type=float, help="growth of the delay per retry")
    group.add_argument("--jitter", action=argparse.BooleanOptionalAction,
                       help="full jitter: each delay uniform in [0, its ceiling]")
    group.add_argument("--attempt-timeout", type=_duration, help="timeout of one attempt")
    group.add_argument("--termination-log", type=Path,
                       help="also write the summary here (default /dev/termination-log if any)")
    return options


def add_arguments(wait: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    """Add one subcommand per check to `wait`."""
    options = _retry_options()
    checks = wait.add_subparsers(dest="check", required=True, metavar="CHECK")
    for name in CHECKS:
        module = _module(name)
        parser = checks.add_parser(
            name, parents=[common, options], help=module.HELP,
            description=f"Wait until {module.HELP}.",
        )
        module.add_arguments(parser)


def policy_for(settings: Settings, service: str, args: argparse.Namespace) -> RetryPolicy:
    """`retry.defaults`, then `retry.services.<service>`, then the flags given."""
    policy = settings.retry.policy(service)
    flags = {key: getattr(args, key) for key in _FLAGS if hasattr(args, key)}
    if not flags:
        return policy
    try:
        return RetryPolicy.model_validate({**policy.model_dump(), **flags})
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen check until it passes, the deadline passes, or it cannot succeed."""
    module = _module(args.check)
    termination_log: Path | None = getattr(args, "termination_log", None)
    try:
        policy = policy_for(settings, module.SERVICE, args)
        check: Check = module.build(args, settings)
    except (NotRetryable, SettingsError) as exc:
        logs.get("wait").error("cannot start", check=args.check, error=str(exc))
        result = engine.Result(outcome=engine.NOT_RETRYABLE, error=exc)
        target = _given_target(args)
        emit(Summary.of(result, check=args.check, target=target), termination_log=termination_log)
        return EXIT_CODES[engine.NOT_RETRYABLE]
    result = asyncio.run(_wait(check, policy=policy, name=args.check))
    emit(Summary.of(result, check=args.check, target=check.target),
         termination_log=termination_log)
    return EXIT_CODES.get(result.outcome, EXIT_OTHER)


def _given_target(args: argparse.Namespace) -> str:
    for key in ("addresses", "url", "dsn", "reference"):
        value = getattr(args, key, None)
        if value:
            return ",".join(value) if isinstance(value, list) else str(value)
    return ""


async def _wait(check: Check, *, policy: RetryPolicy, name: str) -> engine.Result:
    # Bound here, not at import: structlog binds to the configuration current at bind time.
    bound = logs.get("wait").bind(check=name, target=check.target)
    _announce(bound, policy)
    retry = engine.Retry(check.attempt, policy=policy, observer=_Reporter(bound))
    task = asyncio.ensure_future(retry.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        result = await task
    except asyncio.CancelledError:
        result = retry.result(engine.TERMINATED)
        bound.warning("terminated by a signal", attempts=result.attempts)
        return result
    _report(bound, result)
    return result


def _announce(bound: Any, policy: RetryPolicy) -> None:
    bound.info("waiting", **policy.model_dump())
    backoff = expected_backoff(policy)
    if backoff > policy.timeout:
        bound.warning(
            "maxAttempts cannot be reached before the deadline",
            max_attempts=policy.max_attempts, timeout=policy.timeout,
            expected_backoff_seconds=round(backoff, 3),
        )


class _Reporter:
    """Logs every failed attempt that will be retried."""

    def __init__(self, bound: Any) -> None:
        self.bound = bound

    def __call__(self, *, attempt: int, error: BaseException, delay: float | None) -> None:
        self.bound.info("attempt failed", attempt=attempt, error=engine.describe(error),
                        retry_in=None if delay is None else round(delay, 3))


def _report(bound: Any, result: engine.Result) -> None:
    fields = {"attempts": result.attempts, "duration_seconds": round(result.duration, 3),
              "outcome": result.outcome}
    if result.outcome == engine.READY:
        bound.info("ready", **fields)
    else:
        bound.error("gave up", error=result.last_error, **fields)
