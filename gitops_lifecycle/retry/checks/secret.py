"""`wait secret NS/NAME --keys a,b`: the Secret has every key, non-empty. Values never shown."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from gitops_lifecycle.retry.checks import kubeapi, kubeconfig
from gitops_lifecycle.retry.errors import NotReady

if TYPE_CHECKING:
    import argparse

    from gitops_lifecycle.retry.waitsettings import Kubernetes, WaitSettings

NAME = "secret"
SERVICE = kubeapi.SERVICE
HELP = "a Secret exists with the given keys, each non-empty"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`NAMESPACE/NAME` or `NAME -n NAMESPACE`, `[--keys a,b]`."""
    parser.add_argument("reference", metavar="[NAMESPACE/]NAME",
                        help="the Secret: NAMESPACE/NAME, or NAME with -n NAMESPACE")
    parser.add_argument("--keys", default="", help="comma-separated keys that must be non-empty")
    kubeapi.add_arguments(parser)


@dataclasses.dataclass
class SecretCheck:
    """GET the Secret; report missing or empty keys by name only."""

    settings: Kubernetes
    namespace: str | None
    name: str
    keys: list[str]

    @property
    def target(self) -> str:
        """`secret/NAMESPACE/NAME`."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"secret/{where}{self.name}"

    async def attempt(self, budget: float) -> None:
        """Read the Secret and judge it."""
        del budget
        api = kubeconfig.load(self.settings)
        self.namespace = self.namespace or api.namespace
        client = kubeapi.connect(self.settings, api)
        secret = await client.get(kubeapi.object_path("v1", "secrets", self.name,
                                                      self.namespace))
        self.judge(secret)

    def judge(self, secret: kubeapi.Object | None) -> None:
        """Raise NotReady unless every key is there with a value."""
        if secret is None:
            raise NotReady(f"{self.target} not found")
        data = secret.get("data") or {}
        missing = [key for key in self.keys if key not in data]
        empty = [key for key in self.keys if key in data and not data[key]]
        if missing or empty:
            raise NotReady("; ".join(
                part for part in (_listed("missing keys", missing), _listed("empty keys", empty))
                if part
            ))


def _listed(label: str, keys: list[str]) -> str:
    return f"{label}: {', '.join(keys)}" if keys else ""


def build(args: argparse.Namespace, settings: WaitSettings) -> SecretCheck:
    """The check for the Secret and keys given."""
    namespace, name = kubeapi.split_reference(args.reference, args.namespace)
    keys = [key.strip() for key in args.keys.split(",") if key.strip()]
    return SecretCheck(settings=settings.kubernetes, namespace=namespace, name=name, keys=keys)
