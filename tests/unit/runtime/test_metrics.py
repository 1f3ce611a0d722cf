"""services.metrics: the broker node info follows the connection from node to node."""

from services.metrics import Metrics


def test_broker_node_info_names_only_the_node_in_use_and_counts_reconnections():
    metrics = Metrics()
    metrics.broker_connected("callflow@kz", "rabbit-0:5672")
    metrics.broker_connected("voicemail@kz", "rabbit-0:5672")
    metrics.broker_connected("callflow@kz", "rabbit-1:5672", reconnected=True)
    text = metrics.render().decode()
    assert 'kzvoice_broker_node_info{connection="callflow@kz",node="rabbit-1:5672"} 1.0' in text
    assert 'kzvoice_broker_node_info{connection="callflow@kz",node="rabbit-0:5672"}' not in text
    assert 'kzvoice_broker_node_info{connection="voicemail@kz",node="rabbit-0:5672"} 1.0' in text
    assert "kzvoice_broker_reconnects_total 1.0" in text
