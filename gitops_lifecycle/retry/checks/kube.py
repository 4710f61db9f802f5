"""Placeholder."""

from __future__ import annotations

NAME = "kube"
SERVICE = "kube"
HELP = "kube"


def add_arguments(parser):
    pass


def build(args):
    raise NotImplementedError
