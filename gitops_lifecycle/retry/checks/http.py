"""Placeholder."""

from __future__ import annotations

NAME = "http"
SERVICE = "http"
HELP = "http"


def add_arguments(parser):
    pass


def build(args):
    raise NotImplementedError
