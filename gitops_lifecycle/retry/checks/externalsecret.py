"""`wait externalsecret NS/NAME`: External Secrets has synced the current spec into its Secret."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from gitops_lifecycle.retry.checks import kubeapi, kubeconfig
from gitops_lifecycle.retry.errors import NotReady

if TYPE_CHECKING:
    import argparse

    from gitops_lifecycle.retry.waitsettings import Kubernetes, WaitSettings

NAME = "externalsecret"
SERVICE = kubeapi.SERVICE
HELP = "an ExternalSecret is Ready (SecretSynced) for its current generation"
_VERSIONS = ("v1", "v1beta1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`NAMESPACE/NAME` or `NAME -n NAMESPACE`."""
    parser.add_argument("reference", metavar="[NAMESPACE/]NAME",
                        help="the ExternalSecret: NAMESPACE/NAME, or NAME with -n NAMESPACE")
    kubeapi.add_arguments(parser)


@dataclasses.dataclass
class ExternalSecretCheck:
    """GET it (external-secrets.io/v1, else v1beta1) and judge its status."""

    settings: Kubernetes
    namespace: str | None
    name: str

    @property
    def target(self) -> str:
        """`externalsecret/NAMESPACE/NAME`."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"externalsecret/{where}{self.name}"

    async def attempt(self, budget: float) -> None:
        """Read the ExternalSecret and judge it."""
        del budget
        api = kubeconfig.load(self.settings)
        self.namespace = self.namespace or api.namespace
        client = kubeapi.connect(self.settings, api)
        found = await self._get(client)
        judge(found, self.target)

    async def _get(self, client: kubeapi.Client) -> kubeapi.Object | None:
        for version in _VERSIONS:
            # A 404 means either no such object or an API version the cluster does not serve.
            found = await client.get(kubeapi.object_path(
                f"external-secrets.io/{version}", "externalsecrets", self.name, self.namespace))
            if found is not None:
                return found
        return None


def judge(obj: kubeapi.Object | None, target: str) -> None:
    """Raise NotReady unless Ready=True/SecretSynced, refreshed, for the current generation."""
    if obj is None:
        raise NotReady(f"{target} not found")
    ready = kubeapi.condition(obj, "Ready")
    if ready is None or ready.get("status") != "True" or ready.get("reason") != "SecretSynced":
        detail = "no Ready condition" if ready is None else (
            f"Ready={ready.get('status')} ({ready.get('reason', '')}: {ready.get('message', '')})"
        )
        raise NotReady(detail)
    status = obj.get("status", {})
    if not status.get("refreshTime"):
        raise NotReady("status.refreshTime is not set")
    generation = str(obj.get("metadata", {}).get("generation", ""))
    synced = str(status.get("syncedResourceVersion", ""))
    # The controller writes "<generation>-<hash of metadata>" for the spec it last synced.
    if synced.partition("-")[0] != generation:
        raise NotReady(f"synced version {synced or 'none'} is not generation {generation}")


def build(args: argparse.Namespace, settings: WaitSettings) -> ExternalSecretCheck:
    """The check for the ExternalSecret given."""
    namespace, name = kubeapi.split_reference(args.reference, args.namespace)
    return ExternalSecretCheck(settings=settings.kubernetes, namespace=namespace, name=name)
