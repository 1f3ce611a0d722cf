"""Prometheus metrics of one process, injected where they are counted.

Each ``Metrics`` has its own registry, so two runtimes in one process (tests)
never share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.consumed = Counter("kzvoice_messages_consumed_total", "Messages handled successfully",
                                ["queue", "message"], registry=r)
        self.rejected = Counter("kzvoice_messages_rejected_total",
                                "Messages dropped at the edge, by reason", ["queue", "reason"], registry=r)
        self.published = Counter("kzvoice_messages_published_total", "Messages published",
                                 ["message"], registry=r)
        self.handler_errors = Counter("kzvoice_handler_errors_total", "Handlers that raised",
                                      ["queue", "message"], registry=r)
        self.handle_seconds = Histogram("kzvoice_handle_seconds", "Time to handle one message",
                                        ["queue"], registry=r,
                                        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5))
        self.route_seconds = Histogram("kzvoice_route_seconds", "route_req in to route_resp out",
                                       registry=r, buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5))
        self.active_sessions = Gauge("kzvoice_voicemail_active_sessions", "Voicemail sessions running",
                                     registry=r)
        # per service (app: the bus's App-Name); see services.config.propagation for what is timed
        self.config_propagation = Histogram("kzvoice_config_propagation_seconds",
                                            "Config change announced to a service's config cache dropping it",
                                            ["app"], registry=r,
                                            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                     5, 10))
        self.broker_reconnects = Counter("kzvoice_broker_reconnects_total", "Broker reconnections", registry=r)
        self.broker_node = Gauge("kzvoice_broker_node_info",
                                 "The broker node each bus connection uses (host:port; 1 for the node in use)",
                                 ["connection", "node"], registry=r)
        self._broker_nodes: dict[str, str] = {}

    def broker_connected(self, connection: str, node: str, *, reconnected: bool = False) -> None:
        """A bus connection is up on ``node``: the info metric names it (and no longer the node
        before); a reconnection is counted."""
        before = self._broker_nodes.get(connection)
        if before is not None and before != node:
            self.broker_node.remove(connection, before)
        self._broker_nodes[connection] = node
        self.broker_node.labels(connection, node).set(1)
        if reconnected:
            self.broker_reconnects.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
