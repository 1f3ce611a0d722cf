"""Rendering k8s/ the way an operator deploys it: ``kubectl kustomize`` (kustomize built into kubectl).

kubectl ships with this project's machine image; without it the manifest tests fail and
say so (rendering with a home-made merge would test the merge, not the manifests).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

import yaml

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "k8s"
KUSTOMIZATIONS = {"base": K8S / "base", "dev": K8S / "overlays" / "dev", "production": K8S / "overlays" / "production"}
OVERLAYS = ("dev", "production")
# resources whose schemas are not Kubernetes' own (operators' custom resources)
CUSTOM_KINDS = {("rabbitmq.com/v1beta1", "RabbitmqCluster"), ("monitoring.coreos.com/v1", "ServiceMonitor")}


def kustomize_command() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise AssertionError("neither kubectl nor kustomize is on PATH: the manifests cannot be rendered. "
                         "Install kubectl (it includes kustomize) to run these tests.")


@functools.lru_cache(maxsize=None)
def _render(name: str) -> tuple[str, ...]:
    done = subprocess.run([*kustomize_command(), str(KUSTOMIZATIONS[name])], capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"kustomize build of {name} failed:\n{done.stderr}")
    return (done.stdout,)


def render(name: str) -> list[dict[str, Any]]:
    """The objects of one kustomization, fresh copies (tests may not change each other's)."""
    return [doc for doc in yaml.safe_load_all(_render(name)[0]) if doc]


def of_kind(objects: Iterable[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: Iterable[dict], kind: str, name: str) -> dict:
    for o in objects:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    raise KeyError(f"no {kind} {name}")


def workload(objects: Iterable[dict], name: str) -> dict:
    """The Deployment or StatefulSet called ``name``."""
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == name:
            return o
    raise KeyError(f"no workload {name}")


def pod_templates(objects: Iterable[dict]) -> list[tuple[dict, dict]]:
    """(workload, pod template) of every Deployment and StatefulSet."""
    return [(o, o["spec"]["template"]) for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


def selects(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels / matchExpressions In|Exists) against labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        op, key = expr["operator"], expr["key"]
        if op == "In" and labels.get(key) not in expr["values"]:
            return False
        if op == "NotIn" and labels.get(key) in expr["values"]:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def service_modules() -> set[str]:
    """The ``python -m`` entry points the image can run."""
    return {name for name in ("callflow_svc", "voicemail_svc", "config_svc")
            if importlib.util.find_spec(f"{name}.__main__") is not None}


def container_env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def prestop_seconds(container: dict) -> float:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    match = re.fullmatch(r"sleep (\d+(?:\.\d+)?)", " ".join(command))
    assert match, f"preStop of {container['name']} is not a plain sleep: {command}"
    return float(match.group(1))


def python() -> str:
    return sys.executable
