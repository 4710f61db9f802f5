"""Placeholder."""

from __future__ import annotations

NAME = "kube_secret"
SERVICE = "kube_secret"
HELP = "kube_secret"


def add_arguments(parser):
    pass


def build(args):
    raise NotImplementedError
