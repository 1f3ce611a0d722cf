"""k8s/jobs/config-set.yaml: the operator's config change as a Job, valid and able to do its work."""

from __future__ import annotations

import kubernetes_validate
import yaml

from services.cli import build_parser
from tests.unit.k8s.manifests import K8S, named, render, selects
from tests.unit.k8s.secrets_tool import build_secrets

JOB = K8S / "jobs" / "config-set.yaml"


def load():
    return yaml.safe_load(JOB.read_text(encoding="utf-8"))


def test_job_validates():
    job = load()
    for version in ("1.28.0", "1.33.0"):
        kubernetes_validate.validate(job, version, strict=True)


def test_job_runs_the_operator_tool_with_the_operator_user():
    container = load()["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["kzvoice"]
    args = build_parser().parse_args(container["args"])      # the real CLI accepts the arguments
    assert args.func.__module__ == "config_svc.commands"
    secrets = {s["metadata"]["name"] for s in build_secrets(namespace=None)["items"]}
    refs = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
    assert refs == ["kzvoice-operator"] and "kzvoice-operator" in secrets
    # the toolbox's network policy covers the Job's pod, and RabbitMQ lets it in
    labels = load()["spec"]["template"]["metadata"]["labels"]
    objects = render("base")
    assert selects(named(objects, "NetworkPolicy", "kzvoice-operator")["spec"]["podSelector"], labels)
    rabbit_ingress = named(objects, "NetworkPolicy", "rabbitmq")["spec"]["ingress"][0]["from"]
    assert any(selects(peer["podSelector"], labels) for peer in rabbit_ingress)
