"""The Grafana dashboard: valid JSON that Grafana imports, showing the four things the issue asks
for, using only metric names kzvoice really exports (services/metrics.py)."""

from __future__ import annotations

import json
import re

from prometheus_client.parser import text_string_to_metric_families

from services.metrics import Metrics
from tests.unit.k8s.manifests import K8S

DASHBOARD = K8S / "base" / "monitoring" / "kzvoice-dashboard.json"


def load():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def exprs(dashboard):
    return [(p["title"], t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]


def exported_series() -> set[str]:
    """Every series name a kzvoice process exposes on /metrics (histograms' _bucket/_sum/_count too)."""
    metrics = Metrics()
    # labelled metrics appear on /metrics only once a label set was used
    metrics.rejected.labels("q", "schema").inc()
    metrics.consumed.labels("q", "m").inc()
    metrics.published.labels("m").inc()
    metrics.handler_errors.labels("q", "m").inc()
    metrics.handle_seconds.labels("q").observe(0.1)
    names = set()
    for family in text_string_to_metric_families(metrics.render().decode()):
        names |= {sample.name for sample in family.samples}
    return names


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
    used = set()
    for title, expr in exprs(load()):
        for name in re.findall(r"\b(kzvoice_[a-z_]+)", expr):
            used.add(name)
            assert name in exported, f"{title}: {name} is not a kzvoice metric"
    assert len(used) >= 5


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
