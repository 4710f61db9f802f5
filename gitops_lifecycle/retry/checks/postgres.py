"""Placeholder."""

from __future__ import annotations

NAME = "postgres"
SERVICE = "postgres"
HELP = "postgres"


def add_arguments(parser):
    pass


def build(args):
    raise NotImplementedError
