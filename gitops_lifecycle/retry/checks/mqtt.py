"""Placeholder."""

from __future__ import annotations

NAME = "mqtt"
SERVICE = "mqtt"
HELP = "mqtt"


def add_arguments(parser):
    pass


def build(args):
    raise NotImplementedError
