"""k8s/: every kustomization renders, validates against Kubernetes' schemas, and holds together.

* Kubernetes' own kinds are validated with ``kubernetes-validate`` (strict: unknown
  fields are errors) for the oldest and the newest Kubernetes we claim.
* The operators' custom resources (RabbitmqCluster, ServiceMonitor) have no schema in
  that package; they are checked against the small schemas below, which list only the
  fields these manifests use, with the types the operators' CRDs give them.
* The rest are the relations no schema sees: selectors that select, ports that exist,
  probes on the service's own endpoints, grace periods that cover the drain, network
  policies that let each component reach what it uses and nothing else.
"""

from __future__ import annotations

import json
import re

import jsonschema
import kubernetes_validate
import pytest

from services.settings import ENVIRONMENT, Settings
from tests.unit.k8s.manifests import (CUSTOM_KINDS, KUSTOMIZATIONS, OVERLAYS, container_env, named, of_kind,
                                      pod_templates, prestop_seconds, render, selects, service_modules, workload)

KUBERNETES_VERSIONS = ("1.28.0", "1.33.0")
KZ_NAMES = {name for name, _default, _meaning in ENVIRONMENT}
SERVICES = {"kzvoice-callflow": "callflow_svc", "kzvoice-voicemail": "voicemail_svc", "kzvoice-config": "config_svc"}
# the margin the kubelet needs after the drain to close connections and exit
GRACE_MARGIN_S = 5

_str = {"type": "string"}
_quantity = {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}]}
_resources = {"type": "object", "additionalProperties": False, "properties": {
    "requests": {"type": "object", "additionalProperties": _quantity},
    "limits": {"type": "object", "additionalProperties": _quantity}}}
RABBITMQ_CLUSTER_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {"spec": {"type": "object", "additionalProperties": False, "properties": {
        "replicas": {"type": "integer", "minimum": 0},
        "image": _str,
        "resources": _resources,
        "persistence": {"type": "object", "additionalProperties": False,
                        "properties": {"storage": _quantity, "storageClassName": _str}},
        "rabbitmq": {"type": "object", "additionalProperties": False,
                     "properties": {"additionalConfig": _str, "additionalPlugins": {"type": "array"},
                                    "advancedConfig": _str, "envConfig": _str}},
        "tls": {"type": "object", "properties": {"secretName": _str, "caSecretName": _str,
                                                 "disableNonTLSListeners": {"type": "boolean"}}},
        # a pod template fragment: validated below as part of a StatefulSet
        "override": {"type": "object", "additionalProperties": False,
                     "properties": {"statefulSet": {"type": "object"}, "service": {"type": "object"}}},
    }}},
}
SERVICE_MONITOR_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {"spec": {"type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
                            "properties": {
        "selector": {"type": "object", "additionalProperties": False,
                     "properties": {"matchLabels": {"type": "object", "additionalProperties": _str},
                                    "matchExpressions": {"type": "array"}}},
        "namespaceSelector": {"type": "object"},
        "jobLabel": _str,
        "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["port"],
            "properties": {"port": _str, "path": _str, "interval": {"type": "string", "pattern": r"^\d+[smh]$"},
                           "scrapeTimeout": {"type": "string", "pattern": r"^\d+[smh]$"}, "scheme": _str}}},
    }}},
}


def all_objects():
    return [(name, obj) for name in KUSTOMIZATIONS for obj in render(name)]


def _id(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


# ---- schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_kustomization_renders(name):
    objects = render(name)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy",
            "ServiceMonitor", "ConfigMap", "RabbitmqCluster", "StatefulSet"} <= kinds
    ids = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(ids) == len(set(ids)), "an object is defined twice"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_core_objects_validate_against_kubernetes_schemas(name, version):
    failures = []
    checked = 0
    for obj in render(name):
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
            checked += 1
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{_id(obj)}: {exc.message} at {'/'.join(map(str, exc.path))}")
    assert not failures, "\n".join(failures)
    assert checked >= 20


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_custom_resources_validate_structurally(name):
    schemas = {("rabbitmq.com/v1beta1", "RabbitmqCluster"): RABBITMQ_CLUSTER_SCHEMA,
               ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR_SCHEMA}
    seen = set()
    for obj in render(name):
        key = (obj["apiVersion"], obj["kind"])
        if key not in CUSTOM_KINDS:
            continue
        seen.add(key)
        jsonschema.validate(obj, schemas[key])
        if obj["kind"] == "RabbitmqCluster":
            # the override is a StatefulSet fragment: merged onto a minimal StatefulSet it must validate
            fragment = obj["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]
            statefulset = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "rabbitmq-server"},
                           "spec": {"serviceName": "rabbitmq-nodes", "selector": {"matchLabels": {"a": "b"}},
                                    "template": {"metadata": {"labels": {"a": "b"}},
                                                 "spec": {**fragment, "containers": [
                                                     {"image": "rabbitmq", **c} for c in fragment["containers"]]}}}}
            kubernetes_validate.validate(statefulset, KUBERNETES_VERSIONS[-1], strict=True)
    assert seen == CUSTOM_KINDS


# ---- images, entry points, environment -------------------------------------------------------


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlays_pin_the_image(name):
    for _workload, template in pod_templates(render(name)):
        for container in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            image = container["image"]
            if image.startswith(("rabbitmq", "couchdb")):
                continue
            assert re.search(r"kzvoice:[\w.-]+$", image) and not image.endswith(":latest"), image


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_each_service_runs_its_own_module(name):
    objects = render(name)
    modules = service_modules()
    for deployment, module in SERVICES.items():
        container = workload(objects, deployment)["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == [module]
        assert module in modules, f"{module} has no __main__"
        assert "command" not in container, "the image's ENTRYPOINT (python -m) runs the module"


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_environment_is_known_and_parses(name):
    objects = render(name)
    shared = named(objects, "ConfigMap", "kzvoice-env")["data"]
    assert set(shared) <= KZ_NAMES, f"unknown settings in kzvoice-env: {set(shared) - KZ_NAMES}"
    for workload, template in pod_templates(objects):
        if not workload["metadata"]["name"].startswith("kzvoice-"):
            continue
        for container in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            env = container_env(container)
            defined: list[str] = []
            for entry in container.get("env", []):
                for ref in re.findall(r"\$\((\w+)\)", entry.get("value", "")):
                    assert ref in defined, f"{container['name']}: {entry['name']} uses $({ref}) before it is set"
                defined.append(entry["name"])
            unknown = {k for k in env if k.startswith("KZ_")} - KZ_NAMES
            assert not unknown, f"{container['name']}: unknown settings {unknown}"
            # what the process would see (secrets stand in with valid values; $(VAR) expanded)
            merged = dict(shared)
            merged.update(KZ_AMQP_URL="amqp://u:p@rabbitmq:5672/%2F", KZ_STORE_URL="http://u:p@couchdb:5984")
            for key, value in env.items():
                merged[key] = re.sub(r"\$\((\w+)\)", "pod", value)
            Settings.from_env(merged)


# ---- probes, drain, grace ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_probes_use_the_services_own_endpoints(name):
    objects = render(name)
    port = int(named(objects, "ConfigMap", "kzvoice-env")["data"]["KZ_HTTP_PORT"])
    for deployment in SERVICES:
        container = workload(objects, deployment)["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == port
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_grace_period_covers_prestop_and_drain(name):
    objects = render(name)
    for deployment in SERVICES:
        spec = workload(objects, deployment)["spec"]["template"]["spec"]
        container = spec["containers"][0]
        drain = float(container_env(container)["KZ_DRAIN_SECONDS"])
        needed = prestop_seconds(container) + drain + GRACE_MARGIN_S
        assert spec["terminationGracePeriodSeconds"] >= needed, (
            f"{deployment}: grace {spec['terminationGracePeriodSeconds']} s < preStop + drain {drain} s + margin")


def test_voicemail_drains_longer_in_production():
    def drain(name):
        container = workload(render(name), "kzvoice-voicemail")["spec"]["template"]["spec"]["containers"][0]
        return float(container_env(container)["KZ_DRAIN_SECONDS"])
    assert drain("production") > drain("base")


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_voicemail_spool_survives_the_pod(name):
    # voicemail_svc/spool.py rescans its directory at start: it must be the same volume after a reschedule
    objects = render(name)
    voicemail = workload(objects, "kzvoice-voicemail")
    assert voicemail["kind"] == "StatefulSet"
    container = voicemail["spec"]["template"]["spec"]["containers"][0]
    spool_dir = named(objects, "ConfigMap", "kzvoice-env")["data"]["KZ_SPOOL_DIR"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == spool_dir)
    assert mount["name"] in {c["metadata"]["name"] for c in voicemail["spec"]["volumeClaimTemplates"]}
    assert voicemail["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                                           "whenScaled": "Retain"}
    assert named(objects, "Service", voicemail["spec"]["serviceName"])


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_voicemail_media_port_is_its_own_and_reached_by_the_replicas_dns_name(name):
    # voicemail_svc's upload listener (uploads and Stream-URLs, media.md 6.1) binds KZ_PUBLIC_URL's port;
    # it must not collide with KZ_HTTP_PORT, and the gateway reaches it by the replica's own stable name
    objects = render(name)
    voicemail = workload(objects, "kzvoice-voicemail")
    container = voicemail["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["media"] != ports["http"]
    governing = voicemail["spec"]["serviceName"]
    public = container_env(container)["KZ_PUBLIC_URL"]
    assert re.fullmatch(rf"http://\$\(POD_NAME\)\.{governing}\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local:"
                        rf"{ports['media']}", public), public
    # the variables it names come from the pod and are defined before it (Kubernetes expands in order)
    env = [e["name"] for e in container["env"]]
    fields = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in container["env"]}
    assert (fields["POD_NAME"], fields["POD_NAMESPACE"]) == ("metadata.name", "metadata.namespace")
    assert env.index("POD_NAME") < env.index("KZ_PUBLIC_URL") and env.index("POD_NAMESPACE") < env.index(
        "KZ_PUBLIC_URL")
    # the headless governing Service gives every replica that name, even while it is not ready (draining)
    service = named(objects, "Service", governing)
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    exposed = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert exposed["media"] == (ports["media"], "media")


# ---- security ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_pods_run_unprivileged(name):
    for workload, template in pod_templates(render(name)):
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, _id(workload)
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec.get("automountServiceAccountToken") is False, _id(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
            assert "memory" in container["resources"]["limits"], f"{_id(workload)}/{container['name']}"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            if workload["metadata"]["name"].startswith("kzvoice-"):
                assert sc["readOnlyRootFilesystem"] is True


# ---- relations between objects -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_selectors_select_their_pods(name):
    objects = render(name)
    templates = pod_templates(objects)

    def pods_of(selector):
        return [w for w, t in templates if selects(selector, t["metadata"]["labels"])]

    for workload, template in templates:
        assert selects(workload["spec"]["selector"], template["metadata"]["labels"]), _id(workload)
    for service in of_kind(objects, "Service"):
        matched = pods_of({"matchLabels": service["spec"]["selector"]})
        assert len(matched) == 1, f"{_id(service)} selects {[_id(w) for w in matched]}"
        container_ports = {p["name"] for c in matched[0]["spec"]["template"]["spec"]["containers"]
                           for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports, f"{_id(service)} targets {port['targetPort']}"
    for pdb in of_kind(objects, "PodDisruptionBudget"):
        assert len(pods_of(pdb["spec"]["selector"])) == 1, _id(pdb)
    for monitor in of_kind(objects, "ServiceMonitor"):
        services = [s for s in of_kind(objects, "Service")
                    if selects(monitor["spec"]["selector"], s["metadata"].get("labels", {}))]
        assert len(services) == 1, f"{_id(monitor)} selects {[_id(s) for s in services]}"
        port_names = {p["name"] for p in services[0]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in port_names and endpoint["path"] == "/metrics"


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_every_service_has_a_budget_and_a_monitor(name):
    objects = render(name)
    for deployment in SERVICES:
        assert named(objects, "PodDisruptionBudget", deployment)
        assert named(objects, "ServiceMonitor", deployment)
        assert named(objects, "Service", deployment)


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_autoscalers_own_the_replica_count(name):
    objects = render(name)
    scaled = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(objects, "HorizontalPodAutoscaler")}
    assert set(scaled) == {"kzvoice-callflow", "kzvoice-voicemail"}
    for target, hpa in scaled.items():
        deployment = workload(objects, target)
        assert hpa["spec"]["scaleTargetRef"]["kind"] == deployment["kind"]
        assert "replicas" not in deployment["spec"], f"{target}: an applied replicas field fights the HPA"
        assert hpa["spec"]["scaleTargetRef"]["apiVersion"] == deployment["apiVersion"]
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        # CPU utilisation needs a CPU request to be measured against
        assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_secret_references_are_made_by_the_secrets_tool(name):
    from tests.unit.k8s.secrets_tool import build_secrets
    made = {s["metadata"]["name"]: set(s["stringData"]) for s in build_secrets(namespace=None)["items"]}
    for workload, template in pod_templates(render(name)):
        for container in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in made, f"{_id(workload)}: {source}"
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in made.get(ref["name"], set()), f"{_id(workload)}: {ref}"
    for cluster in of_kind(render(name), "RabbitmqCluster"):
        volumes = cluster["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]["volumes"]
        secret_names = {v["secret"]["secretName"] for v in volumes if "secret" in v}
        assert secret_names <= set(made)


# ---- network policies ---------------------------------------------------------------------------


def _policies_for(objects, labels):
    return [p for p in of_kind(objects, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]


def _peers_allow(peers, labels, *, namespace_label: str | None = None) -> bool:
    """Does one of ``peers`` admit a pod with ``labels`` (in this namespace, or one labelled
    kubernetes.io/metadata.name=namespace_label)?"""
    for peer in peers:
        ns = peer.get("namespaceSelector")
        if ns is None and namespace_label is not None:
            continue
        if ns is not None and ns != {} and namespace_label is None:
            continue
        if ns and namespace_label is not None and not selects(ns, {"kubernetes.io/metadata.name": namespace_label}):
            continue
        if selects(peer.get("podSelector", {}), labels):
            return True
    return False


def _egress_ports(objects, from_labels, to_labels) -> set:
    ports = set()
    for policy in _policies_for(objects, from_labels):
        for rule in policy["spec"].get("egress", []):
            if _peers_allow(rule.get("to", []), to_labels):
                ports |= {p["port"] for p in rule.get("ports", [])}
    return ports


def _ingress_ports(objects, to_labels, from_labels, *, namespace_label=None) -> set:
    ports = set()
    for policy in _policies_for(objects, to_labels):
        for rule in policy["spec"].get("ingress", []):
            if _peers_allow(rule.get("from", []), from_labels, namespace_label=namespace_label):
                ports |= {p["port"] for p in rule.get("ports", [])}
    return ports


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_default_deny_covers_every_pod(name):
    objects = render(name)
    deny = named(objects, "NetworkPolicy", "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = named(objects, "NetworkPolicy", "allow-dns")
    assert {(p["port"], p["protocol"]) for p in dns["spec"]["egress"][0]["ports"]} == {(53, "UDP"), (53, "TCP")}
    for workload, template in pod_templates(objects):
        own = [p for p in _policies_for(objects, template["metadata"]["labels"]) if p["spec"]["podSelector"]]
        assert own, f"{_id(workload)} has no network policy of its own"


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_network_policies_allow_what_each_component_uses(name):
    objects = render(name)
    labels = {w["metadata"]["name"]: t["metadata"]["labels"] for w, t in pod_templates(objects)}
    rabbit = {"app.kubernetes.io/name": "rabbitmq"}          # the Cluster Operator's pod labels
    couch = labels["couchdb"]
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    gateway = {"kzvoice.io/media-gateway": "true"}
    for service in SERVICES:
        assert _egress_ports(objects, labels[service], rabbit) == {5672, 5671}, service
        assert _egress_ports(objects, labels[service], couch) == {5984}, service
        assert _ingress_ports(objects, rabbit, labels[service]) >= {5672, 5671}, service
        assert _ingress_ports(objects, couch, labels[service]) == {5984}, service
        assert _ingress_ports(objects, labels[service], prometheus, namespace_label="monitoring") == {"http"}
    # the operator's toolbox reaches RabbitMQ, never CouchDB; nobody connects to it
    assert _egress_ports(objects, labels["kzvoice-operator"], rabbit) == {5672, 5671}
    assert _egress_ports(objects, labels["kzvoice-operator"], couch) == set()
    assert _ingress_ports(objects, couch, labels["kzvoice-operator"]) == set()
    # only voicemail takes the media gateway's uploads and media fetches (any namespace), on the media port only
    assert _ingress_ports(objects, labels["kzvoice-voicemail"], gateway, namespace_label="media") == {"media"}
    for service in ("kzvoice-callflow", "kzvoice-config"):
        assert _ingress_ports(objects, labels[service], gateway, namespace_label="media") == set()
    # services do not talk to each other except through the broker
    for a in SERVICES:
        for b in SERVICES:
            if a != b:
                assert _egress_ports(objects, labels[a], labels[b]) == set(), (a, b)
    # RabbitMQ's metrics and the Cluster Operator's access to the management API
    assert 15692 in _ingress_ports(objects, rabbit, prometheus, namespace_label="monitoring")
    assert 15672 in _ingress_ports(objects, rabbit, {}, namespace_label="rabbitmq-system")


# ---- RabbitMQ ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_rabbitmq_loads_the_definitions_it_mounts(name):
    cluster = of_kind(render(name), "RabbitmqCluster")[0]
    config = dict(line.split(" = ", 1) for line in cluster["spec"]["rabbitmq"]["additionalConfig"].splitlines()
                  if line.strip())
    template = cluster["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for c in template["containers"] for m in c["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in template["volumes"]}
    path = config["definitions.local.path"]
    volume = next(v for v, mount in mounts.items() if path.startswith(mount + "/"))
    assert secrets[volume] == "kzvoice-rabbitmq-definitions"
    assert path.rsplit("/", 1)[1] == "definitions.json"         # the Secret's key
    assert config["definitions.import_backend"] == "local_filesystem"


def test_rabbitmq_config_keys_exist_in_rabbitmq(rabbit_schema_keys):
    cluster = of_kind(render("base"), "RabbitmqCluster")[0]
    for line in cluster["spec"]["rabbitmq"]["additionalConfig"].splitlines():
        if line.strip():
            key = line.split(" = ", 1)[0].strip()
            assert key in rabbit_schema_keys, f"{key} is not a rabbitmq.conf setting"


@pytest.fixture(scope="module")
def rabbit_schema_keys():
    """rabbitmq.conf keys of the local RabbitMQ (the cuttlefish schema in its rabbit app's priv dir)."""
    import shutil
    import subprocess
    from pathlib import Path
    if not shutil.which("rabbitmqctl"):
        pytest.skip("no local RabbitMQ to read rabbitmq.conf keys from")
    done = subprocess.run(["rabbitmqctl", "-q", "eval", "code:priv_dir(rabbit)."], capture_output=True, text=True,
                          timeout=60)
    schema = Path(done.stdout.strip().strip('"')) / "schema" / "rabbit.schema"
    if done.returncode != 0 or not schema.is_file():
        pytest.skip(f"the local RabbitMQ did not tell where its schema is: {done.stderr.strip()}")
    return set(re.findall(r'\{mapping, "([^"]+)"', schema.read_text(encoding="utf-8")))


# ---- the dashboard ConfigMap --------------------------------------------------------------------


def test_dashboard_configmap_carries_the_dashboard():
    configmap = named(render("base"), "ConfigMap", "kzvoice-grafana-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["kzvoice-dashboard.json"])
    assert dashboard["uid"] == "kzvoice-overview"
