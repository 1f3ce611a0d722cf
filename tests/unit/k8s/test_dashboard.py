"""The Grafana dashboard: valid JSON that Grafana imports, showing the four things the issue asks
for, using only metric names kzvoice really exports (services/metrics.py) and that its code
really sets (a metric drawn but never set shows an empty panel for ever: issue 15 found two).
tests/integration/test_dashboard_metrics.py then sees each of them set in a running process."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from services.metrics import Metrics
from tests.unit.k8s.manifests import K8S

DASHBOARD = K8S / "base" / "monitoring" / "kzvoice-dashboard.json"
REPO = Path(__file__).resolve().parents[3]
SOURCES = ("services", "callflow_svc", "voicemail_svc", "config_svc")
# labels Prometheus adds to every series it scrapes through a ServiceMonitor (and le of buckets)
TARGET_LABELS = {"namespace", "pod", "service", "job", "instance", "container", "endpoint", "le"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def load():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def exprs(dashboard):
    return [(p["title"], t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]


def metric_attributes() -> dict[str, tuple[str, MetricWrapperBase]]:
    """Every series name a kzvoice process can expose on /metrics (histograms' _bucket/_sum/_count,
    counters' _total) -> (the ``Metrics`` attribute holding it, the metric)."""
    metrics = Metrics()
    found = {}
    for attribute, metric in vars(metrics).items():
        if not isinstance(metric, MetricWrapperBase):
            continue
        for family in metric.describe():
            for suffix in SUFFIXES[family.type]:
                found[family.name + suffix] = (attribute, metric)
    return found


def exported_series() -> set[str]:
    return set(metric_attributes())


def dashboard_series() -> dict[str, list[str]]:
    """Series name -> the titles of the panels that draw it."""
    used: dict[str, list[str]] = {}
    for title, expr in exprs(load()):
        for name in re.findall(r"\b(kzvoice_[a-z_]+)", expr):
            used.setdefault(name, []).append(title)
    return used


def test_dashboard_is_importable():
    dashboard = load()
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert 0 <= grid["x"] < 24 and grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"], panel["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"


def test_panels_show_what_the_issue_asks_for():
    text = "\n".join(e for _, e in exprs(load()))
    assert re.search(r"histogram_quantile\(0\.9\d?, .*kzvoice_route_seconds_bucket", text)
    assert "kzvoice_voicemail_active_sessions" in text
    assert re.search(r"sum by \(reason\) \(rate\(kzvoice_messages_rejected_total", text)
    assert re.search(r"histogram_quantile\(0\.9\d?, .*kzvoice_config_propagation_seconds_bucket", text)


def test_every_series_in_the_dashboard_is_exported():
    exported = exported_series()
    used = dashboard_series()
    assert {name: titles for name, titles in used.items() if name not in exported} == {}, \
        "drawn but not a kzvoice metric"
    assert len(used) >= 5


def metrics_helpers_source(path) -> str:
    """The methods of ``Metrics`` other than its constructor, each only when the services' code
    calls it (``.<method>(``)."""
    import ast
    source = path.read_text(encoding="utf-8")
    services_code = "\n".join(p.read_text(encoding="utf-8") for folder in SOURCES
                              for p in sorted((REPO / folder).rglob("*.py")) if p != path)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "Metrics":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name != "__init__" \
                        and re.search(rf"\.{item.name}\(", services_code):
                    found.append(ast.get_source_segment(source, item) or "")
    return "\n".join(found)


def test_every_metric_in_the_dashboard_is_set_by_the_services_code():
    """Each drawn metric's ``Metrics`` attribute is counted, set or observed somewhere in the
    services' code, or in a helper method of ``Metrics`` the services call (never only in the
    constructor of services/metrics.py, which declares it)."""
    metrics_py = REPO / "services" / "metrics.py"
    code = "\n".join(path.read_text(encoding="utf-8") for folder in SOURCES
                     for path in sorted((REPO / folder).rglob("*.py")) if path != metrics_py)
    code += "\n" + metrics_helpers_source(metrics_py)
    attributes = metric_attributes()
    never_set = {}
    for name, titles in dashboard_series().items():
        attribute, _ = attributes[name]
        if not re.search(rf"\.{attribute}\.(labels|inc|dec|set|observe)\b", code):
            never_set[name] = titles
    assert never_set == {}, "drawn, but no code sets it"


def test_labels_the_dashboard_groups_by_exist():
    attributes = metric_attributes()
    wrong = []
    for title, expr in exprs(load()):
        names = re.findall(r"\b(kzvoice_[a-z_]+)", expr)
        labels = set().union(*(attributes[n][1]._labelnames for n in names)) | TARGET_LABELS
        for group in re.findall(r"by \(([^)]*)\)", expr):
            wrong += [(title, label) for label in (g.strip() for g in group.split(",")) if label not in labels]
    assert wrong == [], "grouped by a label the metric does not have"


def test_queries_are_scoped_to_the_chosen_namespace():
    dashboard = load()
    namespace = next(v for v in dashboard["templating"]["list"] if v["name"] == "namespace")
    assert re.search(r"label_values\((kzvoice_[a-z_]+), namespace\)", namespace["definition"])
    # the variable's metric has no labels of its own, so it is exported from the start
    metric = re.search(r"label_values\((kzvoice_[a-z_]+),", namespace["definition"]).group(1)
    assert f"{metric}_total" in exported_series() or metric in exported_series()
    for title, expr in exprs(dashboard):
        for selector in re.findall(r"kzvoice_[a-z_]+(\{[^}]*\})?", expr):
            assert 'namespace="$namespace"' in selector, f"{title}: {expr}"
