"""Placeholder."""

from __future__ import annotations

NAME = "redis"
SERVICE = "redis"
HELP = "redis"


def add_arguments(parser):
    pass


def build(args):
    raise NotImplementedError
