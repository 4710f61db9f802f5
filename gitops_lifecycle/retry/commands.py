"""The `wait` subcommands. Imports nothing heavy: each check loads its own driver."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_lifecycle import logs
from gitops_lifecycle.durations import format_duration, parse_duration
from gitops_lifecycle.retry import engine, waitsettings
from gitops_lifecycle.retry.errors import NotRetryable
from gitops_lifecycle.retry.policy import DEFAULT, Policy
from gitops_lifecycle.retry.schedule import expected_backoff
from gitops_lifecycle.retry.summary import Summary, emit
from gitops_lifecycle.sources import SettingsError

if TYPE_CHECKING:
    from types import ModuleType

    from gitops_lifecycle.retry.checks import Check
    from gitops_lifecycle.retry.waitsettings import WaitSettings

CHECKS = ("postgres", "mysql", "tcp", "redis", "mqtt", "http", "dns", "k8s", "secret",
          "externalsecret")
_MODULES = {"k8s": "kube"}
EXIT_CODES = {
    engine.READY: 0,
    engine.TIMEOUT: 124,
    engine.NOT_RETRYABLE: 2,
}
EXIT_OTHER = 1
EXIT_SIGNAL = 128  # plus the signal's number: 143 for SIGTERM, 130 for SIGINT
EXIT_HELP = """exit codes:
  0    ready
  1    attempts exhausted (--max-attempts), or an unexpected error
  2    cannot succeed: a usage error, bad credentials, failed TLS verification
  124  deadline (--timeout) passed
  143  terminated by SIGTERM (130: SIGINT)

The last line on stdout is a JSON summary; it is also the container's termination message."""
_FLAGS = ("max_attempts", "base_delay", "max_delay", "backoff_multiplier", "jitter", "timeout",
          "attempt_timeout")
# A value such as `-3s` must reach --timeout (and be refused there), not pass for a flag.
_NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$|^-[\d.]+[a-z][\da-z.]*$")


class _NegativeValues(argparse.ArgumentParser):
    """Treats `-3s` like argparse treats `-3`: as a value, so that the flag can refuse it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE


def _check_parser(wait: argparse.ArgumentParser) -> type[argparse.ArgumentParser]:
    """A check's parser class: `wait`'s own (which may be a quiet trial) taking `-3s`."""
    if type(wait) is argparse.ArgumentParser:
        return _NegativeValues
    return type(f"Check{type(wait).__name__}", (_NegativeValues, type(wait)), {})


def _module(check: str) -> ModuleType:
    return importlib.import_module(f"gitops_lifecycle.retry.checks.{_MODULES.get(check, check)}")


def _duration(text: str) -> float:
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{text!r} is negative; expected {_EXPECTED_DURATION}")
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {exc}") from None


_EXPECTED_DURATION = "a duration such as 30s, 5m, 1h30m or plain seconds"


def _default(field: str) -> str:
    value = getattr(DEFAULT, field)
    if field in ("timeout", "base_delay", "max_delay", "attempt_timeout"):
        shown = format_duration(value)
    elif isinstance(value, bool):
        shown = "on" if value else "off"
    else:
        shown = f"{value:g}"
    return f"(default: {shown})"


def _retry_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = options.add_argument_group(
        "retry", "Each flag overrides the setting retry.services.<service>.<key>, which "
        "overrides retry.defaults.<key>; the defaults shown are those of retry.defaults.")
    group.add_argument("--timeout", type=_duration, metavar="DURATION",
                       help=f"total deadline, e.g. 5m; 0 makes one attempt {_default('timeout')}")
    group.add_argument("--max-attempts", type=int, metavar="N",
                       help=f"give up after this many attempts {_default('max_attempts')}")
    group.add_argument("--base-delay", type=_duration, metavar="DURATION",
                       help=f"backoff before the second attempt {_default('base_delay')}")
    group.add_argument("--max-delay", type=_duration, metavar="DURATION",
                       help=f"longest backoff delay {_default('max_delay')}")
    group.add_argument("--backoff-multiplier", type=float, metavar="FACTOR",
                       help=f"growth of the delay per retry {_default('backoff_multiplier')}")
    group.add_argument("--jitter", action=argparse.BooleanOptionalAction,
                       help="full jitter: each delay uniform in [0, its ceiling] "
                       f"{_default('jitter')}")
    group.add_argument("--attempt-timeout", type=_duration, metavar="DURATION",
                       help="timeout of one attempt, cut to the time left "
                       f"{_default('attempt_timeout')}")
    output = options.add_argument_group("output")
    output.add_argument("--termination-log", type=Path, metavar="FILE",
                        help="also write the JSON summary here (default: /dev/termination-log "
                        "when it exists, as in a Kubernetes container)")
    return options


def add_arguments(wait: argparse.ArgumentParser, common: argparse.ArgumentParser, *,
                  only: str | None = None) -> None:
    """Add one subcommand per check to `wait` (or just the check `only`)."""
    options = _retry_options()
    wait.epilog = EXIT_HELP
    wait.formatter_class = argparse.RawDescriptionHelpFormatter
    checks: Any = wait.add_subparsers(dest="check", required=True, metavar="CHECK",
                                      parser_class=_check_parser(wait))
    for name in CHECKS if only is None else (only,):
        module = _module(name)
        parser = checks.add_parser(
            name, parents=[common, options], help=module.HELP,
            description=f"Wait until {module.HELP}.", epilog=EXIT_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(parser)


def policy_for(settings: WaitSettings, service: str, args: argparse.Namespace) -> Policy:
    """`retry.defaults`, then `retry.services.<service>`, then the flags given."""
    policy = settings.retry.policy(service)
    flags = {key: getattr(args, key) for key in _FLAGS if hasattr(args, key)}
    try:
        return waitsettings.with_flags(policy, flags)
    except waitsettings.Unsure:
        pass
    from gitops_lifecycle.settings import RetryPolicy  # to say what is wrong with a flag

    try:
        checked = RetryPolicy.model_validate({**policy.fields(), **flags})
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return Policy(**checked.model_dump())


def main(args: argparse.Namespace, settings: WaitSettings) -> int:
    """Run the chosen check until it passes, the deadline passes, or it cannot succeed."""
    log = logs.command_logger("wait", settings.logging.level, settings.logging.format)
    module = _module(args.check)
    termination_log: Path | None = getattr(args, "termination_log", None)
    try:
        policy = policy_for(settings, module.SERVICE, args)
        check: Check = module.build(args, settings)
    except (NotRetryable, SettingsError) as exc:
        return _cannot_start(log, args, exc, engine.NOT_RETRYABLE, termination_log)
    except Exception as exc:
        return _cannot_start(log, args, exc, engine.ERROR, termination_log)
    received: list[int] = []
    result = asyncio.run(_wait(check, policy=policy, name=args.check, received=received,
                               log=log))
    emit(Summary.of(result, check=args.check, target=check.target),
         termination_log=termination_log)
    if result.outcome == engine.TERMINATED and received:
        return EXIT_SIGNAL + received[0]
    return EXIT_CODES.get(result.outcome, EXIT_OTHER)


def _cannot_start(log: Any, args: argparse.Namespace, exc: BaseException, outcome: str,
                  termination_log: Path | None) -> int:
    log.error("cannot start", check=args.check, error=engine.describe(exc))
    result = engine.Result(outcome=outcome, error=exc)
    emit(Summary.of(result, check=args.check, target=_given_target(args)),
         termination_log=termination_log)
    return EXIT_CODES.get(outcome, EXIT_OTHER)


def _given_target(args: argparse.Namespace) -> str:
    for key in ("addresses", "url", "dsn", "reference", "host"):
        value = getattr(args, key, None)
        if value:
            return ",".join(value) if isinstance(value, list) else str(value)
    return ""


async def _wait(check: Check, *, policy: Policy, name: str, received: list[int],
                log: Any) -> engine.Result:
    bound = log.bind(check=name, target=check.target)
    _announce(bound, policy)
    retry = engine.Retry(check.attempt, policy=policy, observer=_Reporter(bound))
    task = asyncio.ensure_future(retry.run())
    loop = asyncio.get_running_loop()
    def stop(signum: int) -> None:
        received.append(signum)
        task.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    try:
        result = await task
    except asyncio.CancelledError:
        result = retry.result(engine.TERMINATED)
        bound.warning("terminated by a signal", attempts=result.attempts)
        return result
    _report(bound, result)
    return result


def _announce(bound: Any, policy: Policy) -> None:
    bound.info("waiting", **policy.fields())
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
