"""Placeholder."""

from __future__ import annotations

NAME = "kube_externalsecret"
SERVICE = "kube_externalsecret"
HELP = "kube_externalsecret"


def add_arguments(parser):
    pass


def build(args):
    raise NotImplementedError
