"""CustomResourceDefinitions through apiextensions.k8s.io/v1, as kubectl and the official client
use them.

Rules followed (Kubernetes documentation, "Extend the Kubernetes API with
CustomResourceDefinitions",
https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/,
and "Versions in CustomResourceDefinitions", .../custom-resource-definition-versioning/):
a CRD becomes served once `Established`; its schema is structural (defaults, pruning,
validation with a cause per field); the status subresource splits spec and status writes;
`additionalPrinterColumns`, `shortNames` and `categories` drive `kubectl get`; deleting a CRD
deletes its objects, then stops serving them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from clients import kubectl, kubectl_run, needs_kubectl
from kubernetes.client import ApiException
from sim_objects import proxy_config

from gitops_lifecycle import crds
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.kubeapi import resources

WIDGETS = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all]}
  versions:
    - name: v1beta1
      served: true
      storage: false
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, minimum: 1, default: 3}
                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
    - name: v1alpha1
      served: false
      storage: false
      schema: {openAPIV3Schema: {type: object}}
"""
GADGETS = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: gadgets, kind: Gadget}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object,
               properties: {color: {type: string, enum: [red, blue]}}}}}}
"""


@pytest.fixture
async def bare() -> AsyncIterator[SimulatedCluster]:
    """A cluster that serves built-in kinds only, as a fresh kube-apiserver does."""
    async with SimulatedCluster(clock=SimClock(start=1_700_000_000.0), crds=()) as cluster:
        yield cluster


@pytest.fixture
def bare_config(bare: SimulatedCluster, tmp_path: Path) -> Path:
    return bare.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def bare_official(bare_config: Path) -> Iterator[kubernetes.client.ApiClient]:
    """The official (synchronous) client on the bare cluster."""
    with kubernetes.config.new_client_from_config(config_file=str(bare_config)) as api:
        yield api


def test_no_custom_kind_is_built_into_the_simulator() -> None:
    assert all(rt.builtin for rt in resources.RESOURCES)
    assert all(rt.group.endswith("k8s.io") or "." not in rt.group
               for rt in resources.RESOURCES)


async def test_the_proxyconfig_crd_served_is_the_file_the_chart_ships(
    sim: SimulatedCluster,
) -> None:
    chart = (Path(__file__).resolve().parents[2] / "deploy" / "helm" /
             "gitops-lifecycle-management" / "files" / "crds" / "proxyconfigs.gitops.io.yaml")
    assert crds.PROXYCONFIGS.resolve() == chart.resolve()
    served = sim.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                     "proxyconfigs.gitops.io")
    assert served is not None
    assert served["spec"]["names"] == yaml.safe_load(chart.read_text())["spec"]["names"]


@needs_kubectl
async def test_a_crd_applied_with_kubectl_is_established_and_its_kind_served(
    bare: SimulatedCluster, bare_config: Path,
) -> None:
    """"Create a CustomResourceDefinition": the CRD's `Established` and `NamesAccepted`
    conditions, `acceptedNames`; then the new endpoint serves objects."""
    missing = await kubectl_run(bare_config, "get", "widgets")
    assert missing.code != 0
    assert "the server doesn't have a resource type" in missing.err
    await kubectl(bare_config, "apply", "-f", "-", stdin=WIDGETS)
    await kubectl(bare_config, "wait", "--for", "condition=Established", "--timeout=10s",
                  "crd/widgets.example.com")
    crd = json.loads(await kubectl(bare_config, "get", "crd", "widgets.example.com",
                                   "-o", "json"))
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["status"]["storedVersions"] == ["v1"]
    listed = (await kubectl(bare_config, "get", "crds")).splitlines()
    assert listed[0].split() == ["NAME", "CREATED", "AT"]
    assert listed[1].split() == ["widgets.example.com", crd["metadata"]["creationTimestamp"]]
    await kubectl(bare_config, "apply", "-f", "-", stdin=(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\n"
        "spec: {size: 5}\n"))
    out = await kubectl(bare_config, "get", "wd", "w1", "-o", "jsonpath={.spec.size}")
    assert out == "5"
    await kubectl(bare_config, "get", "widgets.v1beta1.example.com", "w1")


@needs_kubectl
async def test_discovery_and_openapi_list_a_new_crd_with_its_versions(
    bare_config: Path, bare_official: kubernetes.client.ApiClient,
) -> None:
    """Versions in CRDs: only `served` versions are discovered, the preferred one is the
    highest by Kubernetes version priority (v1 > v1beta1); `kubectl explain` reads the
    schema from /openapi/v3."""
    await kubectl(bare_config, "apply", "-f", "-", stdin=WIDGETS)
    groups = await asyncio.to_thread(kubernetes.client.ApisApi(bare_official).get_api_versions)
    group = next(g for g in groups.groups if g.name == "example.com")
    assert [v.version for v in group.versions] == ["v1", "v1beta1"]
    assert group.preferred_version.version == "v1"
    listed = await asyncio.to_thread(
        kubernetes.client.CustomObjectsApi(bare_official).get_api_resources, "example.com", "v1")
    rows = {r.name: r for r in listed.resources}
    assert set(rows) == {"widgets", "widgets/status"}
    assert rows["widgets"].short_names == ["wd"]
    assert rows["widgets"].categories == ["all"]
    assert rows["widgets"].namespaced
    alpha = await kubectl_run(bare_config, "get", "--raw", "/apis/example.com/v1alpha1")
    assert alpha.code != 0
    explained = await kubectl(bare_config, "explain", "widget.spec")
    assert "size" in explained
    assert "extra" in explained


@needs_kubectl
async def test_kubectl_explain_proxyconfig_spec_shows_the_crd_schema(
    kubeconfig: Path,
) -> None:
    explained = await kubectl(kubeconfig, "explain", "proxyconfig.spec")
    assert "KIND:       ProxyConfig" in explained
    assert "serviceName\t<string> -required-" in explained
    assert "The Service the proxy forwards to." in explained


async def test_objects_of_every_served_version_share_one_storage(
    bare: SimulatedCluster, bare_official: kubernetes.client.ApiClient,
) -> None:
    """"Versions in CustomResourceDefinitions": an object written through one version is
    read through any served one, with that version's apiVersion (conversion `None`)."""
    bare.load_crds(yaml.safe_load(WIDGETS))
    custom = kubernetes.client.CustomObjectsApi(bare_official)
    await asyncio.to_thread(
        custom.create_namespaced_custom_object, "example.com", "v1beta1", "default",
        "widgets", {"apiVersion": "example.com/v1beta1", "kind": "Widget",
                    "metadata": {"name": "w"}, "spec": {"size": 2}})
    read = await asyncio.to_thread(custom.get_namespaced_custom_object, "example.com",
                                   "v1", "default", "widgets", "w")
    with pytest.raises(ApiException) as not_served:
        await asyncio.to_thread(custom.get_namespaced_custom_object, "example.com",
                                "v1alpha1", "default", "widgets", "w")
    assert read["apiVersion"] == "example.com/v1"
    assert read["spec"] == {"size": 2}
    assert not_served.value.status == 404


async def test_a_cluster_scoped_crd_serves_objects_without_a_namespace(
    bare: SimulatedCluster, bare_official: kubernetes.client.ApiClient,
) -> None:
    bare.load_crds(yaml.safe_load(GADGETS))
    custom = kubernetes.client.CustomObjectsApi(bare_official)
    made = await asyncio.to_thread(
        custom.create_cluster_custom_object, "example.com", "v1", "gadgets",
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
         "spec": {"color": "red"}})
    with pytest.raises(ApiException) as bad:
        await asyncio.to_thread(
            custom.create_cluster_custom_object, "example.com", "v1", "gadgets",
            {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "h"},
             "spec": {"color": "green"}})
    assert "namespace" not in made["metadata"]
    assert bad.value.status == 422
    causes = json.loads(bad.value.body)["details"]["causes"]
    assert causes == [{"reason": "FieldValueNotSupported", "field": "spec.color",
                       "message": 'Unsupported value: "green": supported values: "red", '
                                  '"blue"'}]


async def test_schema_defaults_are_applied_on_create_and_update(
    sim: SimulatedCluster, official: kubernetes.client.ApiClient,
) -> None:
    """"Defaulting": defaults apply to fields missing (or null) in the request, within the
    objects that are present, before validation; an update that drops a defaulted field
    gets the default again."""
    custom = kubernetes.client.CustomObjectsApi(official)
    made = await asyncio.to_thread(custom.create_namespaced_custom_object, "gitops.io", "v1",
                                   "default", "proxyconfigs", proxy_config("web"))
    assert made["spec"]["port"] == 80
    assert made["spec"]["protocol"] == "http"
    assert made["spec"]["deletionPolicy"] == "Delete"
    assert made["spec"]["authentikConfig"]["mode"] == "forward_single"
    assert made["spec"]["authentikConfig"]["enabled"] is True
    assert made["spec"]["authentikConfig"]["skipPathRegex"] == "^/api/.*$"
    made["spec"]["port"] = None
    made["spec"]["protocol"] = "https"
    replaced = await asyncio.to_thread(custom.replace_namespaced_custom_object, "gitops.io",
                                       "v1", "default", "proxyconfigs", "web", made)
    assert (replaced["spec"]["port"], replaced["spec"]["protocol"]) == (80, "https")


async def test_invalid_values_are_422_with_a_cause_naming_each_field(
    sim: SimulatedCluster, official: kubernetes.client.ApiClient,
) -> None:
    """"Validation": the schema's types, required, enum, pattern, minimum/maximum and
    maxLength; every violation is one cause of a single 422 Invalid."""
    body = proxy_config("web", port=0, protocol="ftp")
    body["spec"]["serviceName"] = "Bad_Name"
    del body["spec"]["externalHost"]
    body["spec"]["authentikConfig"]["enabled"] = "yes"
    body["spec"]["authentikConfig"]["applicationSlug"] = "s" * 51
    custom = kubernetes.client.CustomObjectsApi(official)
    with pytest.raises(ApiException) as refused:
        await asyncio.to_thread(custom.create_namespaced_custom_object, "gitops.io", "v1",
                                "default", "proxyconfigs", body)
    assert refused.value.status == 422
    status = json.loads(refused.value.body)
    assert status["reason"] == "Invalid"
    causes = {c["field"]: (c["reason"], c["message"]) for c in status["details"]["causes"]}
    assert causes["spec.externalHost"] == ("FieldValueRequired", "Required value")
    assert causes["spec.port"] == ("FieldValueInvalid", (
        "Invalid value: 0: spec.port in body should be greater than or equal to 1"))
    assert causes["spec.protocol"][0] == "FieldValueNotSupported"
    assert causes["spec.serviceName"][0] == "FieldValueInvalid"
    assert "spec.serviceName in body should match" in causes["spec.serviceName"][1]
    assert causes["spec.authentikConfig.enabled"] == ("FieldValueTypeInvalid", (
        'Invalid value: "yes": spec.authentikConfig.enabled in body must be of type boolean: '
        '"yes"'))
    assert causes["spec.authentikConfig.applicationSlug"][0] == "FieldValueTooLong"
    assert sim.list("gitops.io/v1", "ProxyConfig") == []


@needs_kubectl
async def test_unknown_fields_are_pruned_or_refused_under_strict_validation(
    sim: SimulatedCluster, kubeconfig: Path, official: kubernetes.client.ApiClient,
) -> None:
    """"Field pruning" and "Field validation": unknown fields are dropped (a warning under
    Warn), kept under x-kubernetes-preserve-unknown-fields, and a 400 naming the field under
    Strict — kubectl's default."""
    body = proxy_config("web")
    body["spec"]["bogus"] = 1
    strict = await kubectl_run(kubeconfig, "apply", "-f", "-", stdin=json.dumps(body))
    assert strict.code != 0
    assert 'unknown field "spec.bogus"' in strict.err
    custom = kubernetes.client.CustomObjectsApi(official)
    made = await asyncio.to_thread(custom.create_namespaced_custom_object, "gitops.io", "v1",
                                   "default", "proxyconfigs", body)
    assert "bogus" not in made["spec"]
    sim.load_crds(yaml.safe_load(WIDGETS))
    widget = await asyncio.to_thread(
        custom.create_namespaced_custom_object, "example.com", "v1", "default", "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
         "spec": {"gone": True, "extra": {"kept": {"deep": 1}}}})
    assert widget["spec"] == {"size": 3, "extra": {"kept": {"deep": 1}}}


async def test_the_status_subresource_splits_spec_and_status_writes(
    sim: SimulatedCluster, official: kubernetes.client.ApiClient,
) -> None:
    """"Status subresource": writes to the main resource ignore `.status`, writes to
    `/status` ignore everything but `.status`, and only spec changes bump generation."""
    custom = kubernetes.client.CustomObjectsApi(official)
    created = proxy_config("web")
    created["status"] = {"phase": "Ready"}
    made = await asyncio.to_thread(custom.create_namespaced_custom_object, "gitops.io", "v1",
                                   "default", "proxyconfigs", created)
    assert "status" not in made
    assert made["metadata"]["generation"] == 1
    status = await asyncio.to_thread(
        custom.patch_namespaced_custom_object_status, "gitops.io", "v1", "default",
        "proxyconfigs", "web", {"spec": {"port": 8080}, "status": {"phase": "Pending"}})
    assert status["status"] == {"phase": "Pending"}
    assert status["spec"]["port"] == 80
    assert status["metadata"]["generation"] == 1
    main = await asyncio.to_thread(
        custom.patch_namespaced_custom_object, "gitops.io", "v1", "default", "proxyconfigs",
        "web", {"spec": {"port": 8080}, "status": {"phase": "Failed"}})
    assert main["status"] == {"phase": "Pending"}
    assert main["spec"]["port"] == 8080
    assert main["metadata"]["generation"] == 2
    labelled = await asyncio.to_thread(
        custom.patch_namespaced_custom_object, "gitops.io", "v1", "default", "proxyconfigs",
        "web", {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as invalid_status:
        await asyncio.to_thread(
            custom.patch_namespaced_custom_object_status, "gitops.io", "v1", "default",
            "proxyconfigs", "web", {"status": {"phase": "Sleeping"}})
    assert invalid_status.value.status == 422


@needs_kubectl
async def test_kubectl_get_shows_the_printer_columns_by_short_name(
    sim: SimulatedCluster, kubeconfig: Path,
) -> None:
    """"Additional printer columns" and "Short names": `kubectl get pc` prints the CRD's
    columns (Service / Namespace / External Host / Phase / Age)."""
    sim.create(proxy_config("web", serviceNamespace="apps"))
    sim.patch("gitops.io/v1", "ProxyConfig", "web", {"status": {"phase": "Ready"}},
              namespace="default", subresource="status")
    sim.clock.advance(150)  # type: ignore[attr-defined]
    out = await kubectl(kubeconfig, "get", "pc")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "SERVICE", "NAMESPACE", "EXTERNAL", "HOST", "PHASE",
                              "AGE"]
    assert row.split() == ["web", "web", "apps", "https://web.example.com", "Ready", "2m30s"]


@needs_kubectl
async def test_categories_make_kubectl_get_all_list_custom_objects(
    bare: SimulatedCluster, bare_config: Path,
) -> None:
    """"Categories": `kubectl get all` lists every resource in the category `all`."""
    bare.load_crds(yaml.safe_load(WIDGETS))
    bare.create({"apiVersion": "example.com/v1", "kind": "Widget",
                 "metadata": {"name": "w", "namespace": "default"}, "spec": {}})
    out = await kubectl(bare_config, "get", "all")
    assert "widget.example.com/w" in out


@needs_kubectl
async def test_deleting_a_crd_deletes_its_objects_then_stops_serving_them(
    bare: SimulatedCluster, bare_config: Path,
) -> None:
    """"Delete a CustomResourceDefinition": its objects are deleted (finalizers honoured),
    no new ones can be created meanwhile, then the endpoint is gone."""
    bare.load_crds(yaml.safe_load(WIDGETS))
    for name, finalizers in (("plain", []), ("held", ["example.com/hold"])):
        bare.create({"apiVersion": "example.com/v1", "kind": "Widget",
                     "metadata": {"name": name, "namespace": "default",
                                  "finalizers": finalizers}, "spec": {}})
    await kubectl(bare_config, "delete", "crd", "widgets.example.com", "--wait=false")
    crd = bare.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                   "widgets.example.com")
    assert crd is not None
    assert "Terminating" in {c["type"] for c in crd["status"]["conditions"]}
    assert bare.get("example.com/v1", "Widget", "plain", "default") is None
    held = bare.get("example.com/v1", "Widget", "held", "default")
    assert held is not None
    assert held["metadata"]["deletionTimestamp"]
    refused = await kubectl_run(bare_config, "create", "-f", "-", stdin=(
        '{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "new"}}'))
    assert refused.code != 0
    assert "create not allowed while custom resource definition is terminating" in refused.err
    await kubectl(bare_config, "patch", "widget", "held", "--type=merge", "-p",
                  '{"metadata": {"finalizers": null}}')
    assert bare.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                    "widgets.example.com") is None
    gone = await kubectl_run(bare_config, "get", "--raw",
                             "/apis/example.com/v1/namespaces/default/widgets")
    assert gone.code != 0
    groups = json.loads(await kubectl(bare_config, "get", "--raw", "/apis"))
    assert "example.com" not in {g["name"] for g in groups["groups"]}


@pytest.mark.parametrize(("change", "field"), [
    (lambda crd: crd["metadata"].update(name="widgets.other.com"), "metadata.name"),
    (lambda crd: crd["spec"]["versions"][1].update(storage=False), "spec.versions"),
    (lambda crd: crd["spec"].update(scope="Global"), "spec.scope"),
    (lambda crd: crd["spec"]["versions"][1].pop("schema"),
     "spec.versions[1].schema.openAPIV3Schema"),
])
async def test_an_invalid_crd_is_422_naming_the_field(
    bare_official: kubernetes.client.ApiClient, change: Any, field: str,
) -> None:
    """ValidateCustomResourceDefinition: name = plural.group, one storage version, a known
    scope, a schema per version."""
    crd = yaml.safe_load(WIDGETS)
    change(crd)
    crds_api = kubernetes.client.ApiextensionsV1Api(bare_official)
    with pytest.raises(ApiException) as refused:
        await asyncio.to_thread(crds_api.create_custom_resource_definition, crd)
    assert refused.value.status == 422
    fields = [c["field"] for c in json.loads(refused.value.body)["details"]["causes"]]
    assert field in fields


SCALED = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pools.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: pools, kind: Pool}
  versions:
    - name: v1
      served: true
      storage: true
      subresources:
        status: {}
        scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas,
                labelSelectorPath: .status.selector}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {replicas: {type: integer, minimum: 0}}}
            status: {type: object, properties: {replicas: {type: integer},
                                                selector: {type: string}}}
"""


@needs_kubectl
async def test_kubectl_scale_writes_the_replicas_path_of_the_scale_subresource(
    bare: SimulatedCluster, bare_config: Path,
) -> None:
    """"Scale subresource": /scale reads and writes `specReplicasPath`, reports
    `statusReplicasPath` and `labelSelectorPath`; the object's generation follows."""
    bare.load_crds(yaml.safe_load(SCALED))
    bare.create({"apiVersion": "example.com/v1", "kind": "Pool",
                 "metadata": {"name": "p", "namespace": "default"}, "spec": {"replicas": 1},
                 "status": {"replicas": 1, "selector": "app=p"}})
    await kubectl(bare_config, "scale", "pool/p", "--replicas=4")
    pool = bare.get("example.com/v1", "Pool", "p", "default")
    assert pool is not None
    assert pool["spec"] == {"replicas": 4}
    assert pool["metadata"]["generation"] == 2
    read = json.loads(await kubectl(bare_config, "get", "--raw",
                                    "/apis/example.com/v1/namespaces/default/pools/p/scale"))
    assert (read["kind"], read["spec"], read["status"]) == (
        "Scale", {"replicas": 4}, {"replicas": 1, "selector": "app=p"})
