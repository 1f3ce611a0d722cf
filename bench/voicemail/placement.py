"""Where the voicemail benchmark's processes run: ``pinned`` or ``unpinned``.

* **unpinned**: every process where the scheduler puts it (as before);
* **pinned**: the measured process (the service process, or the raw aio-pika
  baseline) alone on the first core this process may use, and everything that
  makes its load -- this driver process (which also runs the load: scripted
  callers, router, executor, notifier), the processes it starts, and every
  thread of the local RabbitMQ broker's OS processes (``beam.smp``) -- on the
  other cores.  The measured process then competes with neither its load nor
  the broker for its core.

Pinning changes the CPU affinity of the broker's threads, which only works
when the broker runs on this machine and this user may change it (root, or the
same user with the right capability).  ``Pinning.probe`` says why not when it
cannot (fewer than 2 cores, no ``beam.smp`` process, a broker elsewhere, not
permitted); the pinned placement is then reported as n/a and the run goes on.
Every affinity changed is put back when the placement ends, also on error.
Two benchmark runs on one machine take the pinned placement one at a time (a
lock file in the temporary directory): the second would otherwise take the
first one's pinned masks for the broker's own and put those back.  The lock
file holds the broker's original masks while it is pinned, so a run killed
while pinned (SIGKILL) leaves them behind and the next pinned run puts them
back at its end.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

PLACEMENTS = ("pinned", "unpinned")
LOCK_NAME = "kzvoice-bench-pinning.lock"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")


def threads_of(pid: int) -> list[int]:
    """The thread ids of ``pid`` (just ``pid`` where /proc has no task list)."""
    try:
        return [int(name) for name in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [pid]


def broker_pids() -> list[int]:
    """The local broker's OS processes: ``pgrep -f beam.smp``, keeping only processes whose own
    command is beam.smp (not a shell whose command line happens to name it)."""
    try:
        out = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    pids = []
    for word in out.split():
        try:
            comm = Path(f"/proc/{word}/comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("beam"):
            pids.append(int(word))
    return pids


class Pinning:
    """The pinned placement: ``with pinning:`` moves this process and the broker to the other cores
    and puts their affinity back on the way out; ``pin(pid)`` puts a measured process on its core."""

    def __init__(self, amqp_url: str) -> None:
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.service_cpus = set(allowed[:1])
        self.other_cpus = set(allowed[1:])
        self.broker: list[int] = []
        self.reason: str | None = None       # why pinning is not possible, or None
        self._saved: dict[int, set[int]] = {}
        self._lock: int | None = None
        self._own_mask: set[int] = set(allowed)
        self.reason = self._probe(amqp_url, allowed)

    def _probe(self, amqp_url: str, allowed: list[int]) -> str | None:
        if not hasattr(os, "sched_setaffinity"):
            return "this platform cannot set CPU affinity"
        if len(allowed) < 2:
            return f"{len(allowed)} core(s) available to this process; pinning needs at least 2"
        host = urllib.parse.urlsplit(amqp_url.split(",")[0].strip()).hostname or ""
        if host not in LOCAL_HOSTS and host != os.uname().nodename:
            return f"the broker ({host}) is not on this machine, its processes cannot be pinned"
        self.broker = broker_pids()
        if not self.broker:
            return "no RabbitMQ broker process (beam.smp) found on this machine (pgrep -f beam.smp)"
        for pid in self.broker:
            try:
                os.sched_setaffinity(pid, os.sched_getaffinity(pid))      # changing it is allowed?
            except PermissionError:
                return f"not permitted to change the broker's CPU affinity (beam.smp pid {pid}; run as its user " \
                       "or root)"
            except OSError as exc:
                return f"cannot change the broker's CPU affinity (beam.smp pid {pid}): {exc}"
        return None

    @property
    def possible(self) -> bool:
        return self.reason is None

    def describe(self) -> str:
        return (f"measured process on core {sorted(self.service_cpus)}, driver/load and broker "
                f"(beam.smp pids {', '.join(map(str, self.broker))}) on cores {sorted(self.other_cpus)}")

    def _set(self, pid: int, cpus: set[int], save: bool, known: dict[int, set[int]] | None = None) -> None:
        for tid in threads_of(pid):
            try:
                if save and tid not in self._saved:
                    self._saved[tid] = (known or {}).get(tid) or os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, cpus)
            except (ProcessLookupError, FileNotFoundError):
                continue                       # a thread that ended meanwhile

    def __enter__(self) -> "Pinning":
        if not self.possible:
            raise RuntimeError(f"pinning not possible: {self.reason}")
        self._take_lock()
        self._own_mask = os.sched_getaffinity(0)
        try:
            left = self._left_behind()
            if left:
                print("(a benchmark run ended while the broker was pinned: its original CPU affinity is put back "
                      "at the end of this placement)", flush=True)
            self._set(os.getpid(), self.other_cpus, save=True)
            own = set(self._saved)
            for pid in self.broker:
                self._set(pid, self.other_cpus, save=True, known=left)
            self._write_state({tid: mask for tid, mask in self._saved.items() if tid not in own})
        except BaseException:
            self.restore()
            raise
        return self

    def _take_lock(self) -> None:
        """One pinned placement on the machine at a time (another benchmark run may be pinning)."""
        self._lock = os.open(os.path.join(tempfile.gettempdir(), LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("(another benchmark run has the pinned placement: waiting for it to end)", flush=True)
            fcntl.flock(self._lock, fcntl.LOCK_EX)

    def _left_behind(self) -> dict[int, set[int]]:
        """The broker's original masks a run killed while pinned left in the lock file (else empty)."""
        try:
            os.lseek(self._lock, 0, os.SEEK_SET)
            text = os.read(self._lock, 1 << 20).decode()
            return {int(tid): set(mask) for tid, mask in json.loads(text).items()} if text.strip() else {}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def _write_state(self, masks: dict[int, set[int]]) -> None:
        os.ftruncate(self._lock, 0)
        if masks:
            os.lseek(self._lock, 0, os.SEEK_SET)
            os.write(self._lock, json.dumps({str(tid): sorted(mask) for tid, mask in masks.items()}).encode())
        os.fsync(self._lock)

    def pin(self, pid: int) -> None:
        """The measured process (every thread it has; later ones inherit it) alone on its core."""
        self._set(pid, self.service_cpus, save=False)

    def restore(self) -> None:
        """Every affinity changed back; threads of this process started while pinned get its old mask."""
        errors = []
        for tid, mask in self._saved.items():
            try:
                os.sched_setaffinity(tid, mask)
            except (ProcessLookupError, FileNotFoundError):
                pass
            except OSError as exc:
                errors.append(f"{tid}: {exc}")
        for tid in threads_of(os.getpid()):
            if tid not in self._saved:
                try:
                    os.sched_setaffinity(tid, self._own_mask)
                except OSError:
                    pass
        self._saved.clear()
        if self._lock is not None:
            if not errors:
                try:
                    self._write_state({})         # nothing left pinned
                except OSError:
                    pass
            os.close(self._lock)                  # releases the lock
            self._lock = None
        if errors:
            print(f"(CPU affinity not restored for threads {'; '.join(errors)})", flush=True)

    def __exit__(self, *exc) -> None:
        self.restore()
