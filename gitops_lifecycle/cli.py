"""The `gitops-lifecycle` command: run, demo, simulate, wait, authentik, check-config, version.

Heavy libraries are imported inside the commands that need them, so that `wait` starts fast
and small in an init container: it builds the parser of its own check only, and reads its few
settings without the settings model (`retry/waitsettings.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from gitops_lifecycle import __version__
from gitops_lifecycle.sources import SettingsError, set_path

if TYPE_CHECKING:
    from gitops_lifecycle.settings import Settings

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a writer ended by SIGPIPE


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--config", type=Path, help="YAML settings file (see config.example.yaml)")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="least severe log level written (default info; demo: warning)")
    common.add_argument("--log-format", choices=["auto", "json", "console"],
                        help="auto: coloured lines on a terminal, JSON lines elsewhere (default)")
    common.add_argument(
        "--set", action="append", metavar="KEY=VALUE", dest="sets",
        help="override one setting by its dotted key, e.g. cleanup.controller.interval=30m",
    )
    return common


def _daemon_options(*, port_help: str) -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    options.add_argument("--port", type=int, help=f"port of /metrics, /healthz and /readyz "
                         f"({port_help})")
    options.add_argument("--dry-run", action="store_true",
                         help="delete nothing, log and count what would be deleted")
    return options


def _cluster_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    options.add_argument("--kubeconfig", type=Path,
                         help="kubeconfig file (default: in-cluster, then $KUBECONFIG, "
                         "then ~/.kube/config)")
    options.add_argument("--context", help="kubeconfig context (default: its current context)")
    return options


def _scenarios() -> list[str]:
    from gitops_lifecycle.simulation.scenarios import bundled

    return bundled()


def parser(*, only_wait: str | None = None,
           parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
           ) -> argparse.ArgumentParser:
    """The whole command line; with `only_wait`, just `wait` with that one check."""
    common = _common_options()
    top = parser_class(
        prog="gitops-lifecycle", parents=[common],
        description="Keeps GitOps clusters tidy and waits for what init containers need.",
        epilog="Exit codes: 0 done, 1 failed, 2 bad usage or settings; `wait` also 124 when "
        "its deadline passes and 143 when it is terminated.",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if only_wait is None:
        _add_cluster_commands(commands, common)
    wait = commands.add_parser(
        "wait", parents=[common], help="wait until a dependency is ready (init containers)",
        description="Retry a readiness check with exponential backoff until it passes.",
    )
    from gitops_lifecycle.retry import commands as wait_commands

    wait_commands.add_arguments(wait, common, only=only_wait)
    if only_wait is None:
        _add_other_commands(commands, common)
    return top


def _add_cluster_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    commands.add_parser(
        "run", parents=[common, _daemon_options(port_help="default 8080"), _cluster_options()],
        help="run the daemon against a cluster",
        description="Run the daemon against a cluster: it deletes finished Jobs, pods stuck "
        "Terminating, old Events and surplus ReplicaSets as their policies say, and (service "
        "discovery) keeps Authentik proxy providers in step with ProxyConfig objects. With "
        "several replicas only the leader acts.",
    )
    demo = commands.add_parser(
        "demo", parents=[common, _daemon_options(port_help="default: any free port")],
        help="run the daemon on a simulated cluster",
        description="Start a simulated cluster, seed it, run the real daemon against it and "
        "tell what it does. No cluster or network needed.",
    )
    demo.add_argument("--duration", default="60s", help="how long to run (default 60s)")
    demo.add_argument("--speed", type=float, default=600.0,
                      help="simulated seconds per real second (default 600)")
    demo.add_argument("--kubeconfig-out", type=Path, help="write a kubeconfig for kubectl here")
    simulate = commands.add_parser(
        "simulate", parents=[common], help="serve a simulated Kubernetes API and Authentik",
        description="Serve the simulated Kubernetes API server, seeded with a scenario (by "
        "default the demo's cluster), and a simulated Authentik API (a fresh installation: "
        "default flows, the embedded outpost). With --kubeconfig-out PATH, three files are "
        "written beside the kubeconfig for a daemon started separately: authentik-url (the "
        "URL), authentik-token (the API token, mode 0600) and authentik.env "
        "(GITOPS_LIFECYCLE_AUTHENTIK__URL and GITOPS_LIFECYCLE_AUTHENTIK__TOKENFILE), i.e. the "
        "settings authentik.url and authentik.tokenFile.",
    )
    simulate.add_argument("--port", type=int, default=0, help="port to listen on (default any)")
    seed = simulate.add_mutually_exclusive_group()
    seed.add_argument("--scenario", default="demo",
                      help="a bundled scenario by name (" + ", ".join(_scenarios()) + ") or a "
                      "YAML file of objects to seed (default demo)")
    seed.add_argument("--empty", action="store_true", help="start with no objects")
    simulate.add_argument("--kubeconfig-out", type=Path, help="write a kubeconfig here")
    simulate.add_argument("--speed", type=float, default=1.0,
                          help="simulated seconds per real second (default 1)")
    simulate.add_argument("--authentik-port", type=int, default=0,
                          help="port of the simulated Authentik (default any)")
    simulate.add_argument("--authentik-token", help="its API token (default a random one)")
    simulate.add_argument("--authentik-version", default="2026.8.5",
                          help="the version it reports (default 2026.8.5)")
    simulate.add_argument(
        "--authentik-schema", choices=["auto", "on", "off"], default="auto",
        help="check request bodies against the authentik-client package's models: auto "
        "(when installed; it takes seconds to import), on (required) or off")


def _add_other_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    authentik = commands.add_parser(
        "authentik", parents=[common], help="check the Authentik API the daemon would use",
        description="Authentik commands.",
    )
    authentik_commands = authentik.add_subparsers(dest="authentik_command", required=True,
                                                  metavar="COMMAND")
    authentik_commands.add_parser(
        "check", parents=[common], help="URL, token, version, flows and outpost",
        description="Check the URL, the token (never printed), the version, and the flows "
        "and outpost the daemon would use; exit 1 if any check fails.",
    )
    commands.add_parser(
        "check-config", parents=[common], help="validate and print the effective settings",
        description="Validate the settings and print them, secrets masked.",
    )
    commands.add_parser("version", parents=[common], help="print the version",
                        description="Print the version.")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; a `wait` is parsed by its own check's parser alone."""
    argv = sys.argv[1:] if argv is None else argv
    check = _wait_check(argv)
    if check is not None:
        with contextlib.suppress(_Unparsed):
            return parser(only_wait=check, parser_class=_Trial).parse_args(argv)
        # Help, a usage error, or no `wait` after all: the whole parser answers.
    return parser().parse_args(argv)


class _Unparsed(Exception):  # noqa: N818 - reads as the state it reports
    """A trial parse ended in help or an error, which the whole parser is to give."""


class _Trial(argparse.ArgumentParser):
    """A parser that prints nothing and exits nowhere: it raises _Unparsed instead."""

    def _print_message(self, message: str, file: Any = None) -> None:
        pass

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Unparsed(status, message)

    def error(self, message: str) -> NoReturn:
        raise _Unparsed(message)


def _wait_check(argv: list[str]) -> str | None:
    """The check a `wait` command line seems to name (parsing it tells for sure)."""
    if "wait" not in argv:
        return None
    from gitops_lifecycle.retry.commands import CHECKS

    after = argv[argv.index("wait") + 1:]
    return next((word for word in after if word in CHECKS), None)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    flags = {
        "logging.level": getattr(args, "log_level", None),
        "logging.format": getattr(args, "log_format", None),
        "server.port": getattr(args, "port", None) if args.command != "simulate" else None,
        "kubernetes.kubeconfig": getattr(args, "kubeconfig", None),
        "kubernetes.context": getattr(args, "context", None),
        "cleanup.dryRun": getattr(args, "dry_run", None),
    }
    overrides: dict[str, Any] = {}
    for key, value in flags.items():
        if value is not None:
            set_path(overrides, key, value)
    for item in getattr(args, "sets", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SettingsError(f"--set {item!r}: expected KEY=VALUE")
        set_path(overrides, key, _yaml_value(value) if value else "")
    return overrides


def _yaml_value(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`check-config | head -1`): end quietly, as `head`'s writer should.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(argv: list[str] | None) -> int:
    args = arguments(argv)
    if args.command == "version":
        print(__version__)  # noqa: T201
        return 0
    if args.command == "wait":
        return _wait(args)
    from gitops_lifecycle.settings import load

    try:
        settings = load(getattr(args, "config", None), _overrides(args))
    except SettingsError as exc:
        return _invalid(exc)
    from gitops_lifecycle import logs

    logs.configure(settings.logging.level, settings.logging.format)
    return _dispatch(args, settings)


def _invalid(exc: SettingsError) -> int:
    print(f"gitops-lifecycle: invalid settings: {exc}", file=sys.stderr)  # noqa: T201
    return EXIT_USAGE


def _wait(args: argparse.Namespace) -> int:
    from gitops_lifecycle.retry import commands, waitsettings

    try:
        settings = waitsettings.load(getattr(args, "config", None), _overrides(args), os.environ)
    except SettingsError as exc:
        return _invalid(exc)
    return commands.main(args, settings)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    if args.command == "check-config":
        import yaml

        from gitops_lifecycle.settings import effective

        yaml.safe_dump(effective(settings), sys.stdout, sort_keys=False)
        return 0
    if args.command == "authentik":
        from gitops_lifecycle.authentik.check import check

        return asyncio.run(check(settings))
    if args.command == "run":
        from gitops_lifecycle import daemon

        return asyncio.run(daemon.run(settings))
    if args.command == "demo":
        from gitops_lifecycle import demo

        return asyncio.run(demo.run(settings, args))
    from gitops_lifecycle.simulation.serve import run as simulate

    return asyncio.run(simulate(args))
