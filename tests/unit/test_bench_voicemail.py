"""The voicemail benchmark's bookkeeping (no broker): its plan of levels, the rows it makes, its sizes."""

from __future__ import annotations

import argparse
import random
import tracemalloc

import pytest

from bench.voicemail import run as vm
from bench.voicemail.load import REACT_SECONDS, check_script
from bench.voicemail.measure import deep_size, site_of
from bench.voicemail.seed import PIN, box_doc
from bench.voicemail_rows import rows_to_result


def args(**given) -> argparse.Namespace:
    values = dict(quick=False, levels=None, kinds=None, repeats=None, no_compressed=False, memory=False, ramp=10.0)
    values.update(given)
    return argparse.Namespace(**values)


def real_runs(levels) -> int:
    """Real-time latency levels of one placement and loop, every repeat."""
    return sum(min(vm.REAL_REPEATS, vm.REAL_REPEATS_BY_CALLS.get(calls, vm.REAL_REPEATS)) for calls in vm.LEVELS) \
        * len(vm.KINDS)


def test_full_plan_unpinned_then_pinned_then_the_uvloop_pair():
    levels = vm.levels_of(args(memory=True))
    groups = vm.groups_of(levels)
    assert [key for key, _ in groups] == [("unpinned", "asyncio"), ("pinned", "asyncio"), ("pinned", "uvloop")]
    unpinned, pinned, uvloop = (group for _, group in groups)
    latency = [lv for lv in unpinned if not lv.traced]
    assert len(latency) == real_runs(latency) + len(vm.KINDS) * len(vm.COMPRESSED_LEVELS) * vm.COMPRESSED_REPEATS
    assert {lv.repeat for lv in latency if lv.scale == 1.0 and lv.calls == 500} == set(range(1, vm.REAL_REPEATS + 1))
    assert {lv.repeat for lv in latency if lv.scale == 1.0 and lv.calls == 10} == {1}
    traced = unpinned[len(latency):]
    assert [(lv.kind, lv.calls, lv.scale) for lv in traced] == [(k, vm.TRACED_CALLS, 1.0) for k in vm.KINDS]
    assert all(lv.traced for lv in traced)
    assert {lv.scale for lv in pinned} == {1.0} and len(pinned) == real_runs(pinned)
    assert not any(lv.traced for lv in pinned + uvloop)
    assert sorted((lv.kind, lv.calls, lv.repeat) for lv in uvloop) == sorted(
        (k, 500, r + 1) for k in vm.KINDS for r in range(vm.REAL_REPEATS))


def test_quick_plan_is_compressed_time_only_and_pinned():
    levels = vm.levels_of(args(quick=True, memory=True))
    assert {lv.scale for lv in levels if not lv.traced} == {vm.COMPRESSED_SCALE}
    assert {lv.calls for lv in levels} == set(vm.QUICK_LEVELS)
    assert {lv.placement for lv in levels} == {"pinned"}
    assert [key for key, _ in vm.groups_of([lv for lv in levels if not lv.traced])] == [
        ("pinned", "asyncio"), ("pinned", "uvloop")]
    assert vm.memory_options(args(quick=True))["memory_ramp_s"] < vm.memory_options(args())["memory_ramp_s"]
    assert vm.raw_options(args(quick=True))["raw_messages"] < vm.raw_options(args())["raw_messages"]


def test_placement_and_loop_options():
    levels = vm.levels_of(args(quick=True, placement="unpinned", loop="asyncio"))
    assert {(lv.placement, lv.loop) for lv in levels} == {("unpinned", "asyncio")}
    ab = [lv for lv in vm.levels_of(args(placement="unpinned")) if lv.loop == "uvloop"]
    assert ab and {lv.placement for lv in ab} == {"unpinned"}
    with pytest.raises(SystemExit, match="trio"):
        vm.levels_of(args(loop="asyncio,trio"))


def test_pinning_needs_two_cores(monkeypatch):
    from bench.voicemail import placement
    monkeypatch.setattr(placement.os, "sched_getaffinity", lambda _pid: {0})
    pinning = placement.Pinning("amqp://guest:guest@127.0.0.1:5672/")
    assert not pinning.possible and "2" in pinning.reason
    with pytest.raises(RuntimeError):
        with pinning:
            pass


def test_pinning_wants_the_broker_on_this_machine():
    from bench.voicemail import placement
    if len(placement.os.sched_getaffinity(0)) < 2:
        pytest.skip("one core")
    pinning = placement.Pinning("amqp://guest:guest@rabbit.example.invalid:5672/")
    assert not pinning.possible and "not on this machine" in pinning.reason


def test_check_script_plays_the_whole_visit():
    rules = check_script(random.Random(1)).rules
    assert [(r.name, r.press or ("hangup" if r.hangup else "")) for r in rules] == [
        ("vm-enter_pass", PIN + "#"), ("vm-main_menu", "1"), ("vm-message_menu", "1"),
        ("vm-message_menu", "7"), ("vm-main_menu", "hangup")]
    assert all(REACT_SECONDS[0] <= r.after <= REACT_SECONDS[1] for r in rules)


def test_deep_size_counts_shared_objects_once():
    blob = "x" * 10_000
    assert deep_size({"a": blob, "b": blob}) < 2 * 10_000
    assert deep_size([blob]) > 10_000


def test_site_is_the_innermost_frame_of_the_repository():
    tracemalloc.start(10)
    try:
        held = box_doc(1, "account%2Fb0%2Fa1%2Fb2c3d4e5f60718293a4b5c6d7e8f")
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    sites = {site_of(stat.traceback) for stat in snapshot.statistics("traceback")}
    assert any(site.startswith("services/store/") for site in sites), sites
    assert held


def row(kind="check", calls=500, time="real", repeat=1, p99=5.0, traced=False, memory=None, placement="unpinned",
        loop="asyncio", **extra):
    base = {"kind": kind, "calls": calls, "time": time, "scale": 1.0 if time == "real" else 0.05,
            "placement": placement, "loop": loop, "loop_type": f"{loop}.Loop", "events": 20 * calls,
            "cpu_s": 0.8 * calls, "cpu_us_per_event": 2000.0,
            "repeat": repeat, "traced": traced, "wall_s": 60.0, "calls_per_s": calls / 60.0, "stored": 0,
            "folders": {"saved": calls, "deleted": calls}, "samples": 12 * calls, "p50_ms": 1.0, "p99_ms": p99,
            "max_ms": p99 * 2, "peak_active": calls, "memory": memory, "cpu_ms_per_call": 40.0,
            "rss_before": 100 << 20, "rss_peak": 110 << 20, "failures": [], "by_command": {}}
    base.update(extra)
    return base


def test_rows_give_median_and_spread_and_judge_the_headline():
    memory = {"active": 500, "traced_growth": 20 << 20, "store_growth": 0, "per_session": 40 * 1024,
              "sites": [["voicemail_svc/profile.py:268", 1024.0]]}
    result = rows_to_result([row(p99=5.0), row(repeat=2, p99=30.0), row(repeat=3, p99=10.0),
                             row(traced=True, memory=memory)], quick=False)
    by_name = {r.name: r for r in result.rows}
    latency = by_name["check x500 (real time, unpinned): command latency p50 / p99"]
    assert latency.figure == "1.00 [1.00-1.00] / 10.00 [5.00-30.00] ms"
    assert latency.verdict == "PASS" and "3 runs" in latency.note
    traced = by_name["check x500 (real time, unpinned): memory per active session (tracemalloc)"]
    assert traced.figure == "40.0 KiB" and traced.verdict == "PASS"
    assert "memory per active session, RSS growth (upper bound)" in " ".join(by_name)


def test_latency_curve_has_real_time_levels_only_with_median_and_spread():
    rows = [row(calls=10, p99=2.0), row(calls=10, repeat=2, p99=4.0), row(calls=500, p99=30.0),
            row(kind="compose", calls=100, p99=7.0), row(calls=100, time="x20", p99=99.0)]
    curve = rows_to_result(rows, quick=False).curves["voicemail_latency"]
    assert curve["series"]["check p99"] == [[10, 3.0, 2.0, 4.0], [500, 30.0, 30.0, 30.0]]
    assert curve["series"]["compose p99"] == [[100, 7.0, 7.0, 7.0]]
    assert "check p50" in curve["series"]


async def test_timed_calls_measure_event_to_command_through_the_call_factory():
    """The benchmark times a session through the service's call factory: an event the session took,
    then the command it published, gives one latency sample, by command; voicemail_svc is not patched."""
    from bench.voicemail.measure import Latencies, TimedEvents, timed_calls
    from services.messages import catalogue as m
    from services.messages.spec import Message
    from voicemail_svc.call_control import BusCallControl, Timers

    published = []

    class Bus:
        async def publish(self, spec, fields, *, to=None, server_id=None):
            published.append((spec.name, dict(fields), to))
            return dict(fields)

    class Replies:
        name = "replies"

    latencies = Latencies()
    call = timed_calls(latencies)(Bus(), {"Call-ID": "c1", "Control-Queue": "q1"}, Replies(), timers=Timers())
    assert isinstance(call, BusCallControl) and isinstance(call.events, TimedEvents)
    call.events.put(Message(m.CALL_EVENTS["DTMF"], {"Call-ID": "c1", "DTMF-Digit": "8"}))
    assert (await call.events.next(None))["DTMF-Digit"] == "8"
    await call.playseek("fastforward", 5000)
    await call.playseek("rewind", 5000)                 # follows no new event: not a sample
    assert [p[1]["Application-Name"] for p in published] == ["playseek", "playseek"]
    assert published[0][2] == "q1"
    assert len(latencies.samples) == 1 and list(latencies.by_command) == ["playseek"]
    assert len(latencies.publish) == 2


def test_cpu_per_event_beside_raw_and_uvloop_beside_the_default_loop():
    raw = {"placement": "pinned", "rounds": [{"cpu_us_per_message": 200.0, "messages": 1000, "bytes_in": 1600},
                                             {"cpu_us_per_message": 300.0, "messages": 1000, "bytes_in": 1600}]}
    rows = [row(placement="pinned", p99=10.0), row(placement="pinned", repeat=2, p99=10.0),
            row(placement="pinned", loop="uvloop", p99=5.0, cpu_ms_per_call=30.0, cpu_us_per_event=1500.0)]
    result = rows_to_result(rows, quick=False, raw=raw, not_run=[["uvloop on the moon", "no air"]])
    by_name = {r.name: r for r in result.rows}
    event = by_name["check x500 (real time, pinned): CPU per call event"]
    assert (event.figure, event.baseline, event.ratio) == ("2000 [2000-2000] us", "250 [200-300] us", 8.0)
    ab = by_name["check x500 (real time, pinned, uvloop): CPU per call event"]
    assert (ab.baseline, ab.ratio) == ("2000 [2000-2000] us", 0.75)
    assert by_name["check x500 (real time, pinned, uvloop): CPU per call"].ratio == 0.75
    latency = by_name["check x500 (real time, pinned, uvloop): command latency p50 / p99"]
    assert latency.ratio == 0.5 and not latency.target
    assert by_name["check x500 (real time, pinned): command latency p50 / p99"].target
    assert by_name["raw aio-pika (pinned): CPU per consumed and published message"].figure == "250 [200-300] us"
    assert by_name["uvloop on the moon"].figure == "n/a"


def test_timed_events_count_the_call_events_consumed():
    from bench.voicemail.measure import Latencies, TimedEvents
    from services.messages import catalogue as m
    from services.messages.spec import Message

    latencies = Latencies()
    events = TimedEvents("c1", latencies)
    for digit in "12":
        events.put(Message(m.CALL_EVENTS["DTMF"], {"Call-ID": "c1", "DTMF-Digit": digit}))
    assert latencies.events == 2


def test_pinning_puts_back_what_a_killed_run_left_pinned(monkeypatch, tmp_path):
    """A process of our own stands in for the broker: pinned, the run 'killed' (its masks left in the lock
    file), then the next pinned placement restores the original masks, and nothing stays pinned."""
    import os
    import subprocess
    import sys

    from bench.voicemail import placement
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core")
    monkeypatch.setattr(placement.tempfile, "gettempdir", lambda: str(tmp_path))
    broker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setattr(placement, "broker_pids", lambda: [broker.pid])
        original, own = os.sched_getaffinity(broker.pid), os.sched_getaffinity(0)
        killed = placement.Pinning("amqp://guest:guest@127.0.0.1:5672/")
        assert killed.possible, killed.reason
        killed.__enter__()
        assert os.sched_getaffinity(broker.pid) == killed.other_cpus
        os.close(killed._lock)                       # the run dies: no restore, its lock goes with it
        os.sched_setaffinity(0, killed._own_mask)
        with placement.Pinning("amqp://guest:guest@127.0.0.1:5672/") as later:
            assert os.sched_getaffinity(broker.pid) == later.other_cpus
            assert os.sched_getaffinity(0) == later.other_cpus
        assert os.sched_getaffinity(broker.pid) == original
        assert os.sched_getaffinity(0) == own
        assert (tmp_path / placement.LOCK_NAME).read_text() == ""
    finally:
        broker.kill()
        broker.wait()
