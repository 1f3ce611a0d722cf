"""services.bus.amqp without a broker: the backoff between reconnect rounds, node names."""

import itertools
import random

from services.bus.amqp import backoff_delays, node_of


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half():
    delays = list(itertools.islice(backoff_delays(0.5, 4.0, random.Random(7)), 8))
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings)), delays
    assert len(set(delays)) == len(delays)          # jittered: no two clients in step


def test_backoff_differs_between_clients():
    one = list(itertools.islice(backoff_delays(1.0, 10.0, random.Random(1)), 5))
    two = list(itertools.islice(backoff_delays(1.0, 10.0, random.Random(2)), 5))
    assert one != two


def test_node_of_names_host_and_port_only():
    assert node_of("amqp://kz:secret@rabbit-0.example/") == "rabbit-0.example:5672"
    assert node_of("amqps://kz:secret@rabbit-1.example/vh") == "rabbit-1.example:5671"
    assert node_of("amqp://u:p@[::1]:5673/") == "[::1]:5673"
