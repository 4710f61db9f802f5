"""The `wait` subcommands. Imports nothing heavy: each check loads its own driver."""

from __future__ import annotations

import argparse

from gitops_lifecycle.settings import Settings


def add_arguments(wait: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    """Add one subcommand per check to `wait`."""
    wait.add_subparsers(dest="check", required=True, metavar="CHECK")
    del common


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen check until it passes, the deadline passes, or it cannot succeed."""
    del args, settings
    return 1
