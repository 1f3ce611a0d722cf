"""The collector policy the runtime applies once its services are up (services.runtime.settle_heap)."""

import gc

import pytest

from services.runtime import settle_heap


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)


def test_start_up_objects_are_frozen_and_the_young_threshold_raised(restored_gc):
    survivor = [{"a start-up object": n} for n in range(100)]   # tracked, alive across the call
    frozen_before = gc.get_freeze_count()
    _, gen1, gen2 = gc.get_threshold()
    settle_heap(12_345)
    assert gc.get_freeze_count() >= frozen_before + len(survivor)
    assert gc.get_threshold() == (12_345, gen1, gen2)


def test_zero_keeps_the_interpreter_thresholds(restored_gc):
    before = gc.get_threshold()
    settle_heap(0)
    assert gc.get_threshold() == before
