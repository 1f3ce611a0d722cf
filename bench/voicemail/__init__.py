"""Voicemail under load: N simultaneous callers compose or check with one voicemail_svc process.

Run with ``python -m bench.bench_voicemail [--quick]`` against a RabbitMQ broker
(``KZ_AMQP_URL`` or ``--amqp-url``).  A vhost of its own is created for the run
when the broker can be administered (rabbitmqctl or the management API), so no
other service competes for ``voicemail_actions``.

Two processes (three with the raw baseline):

* the **service process** (this module with ``--serve``): config_svc and
  voicemail_svc on an in-memory store seeded with one account and one box per
  caller -- what ``kzvoice run --only config,voicemail`` would run.  It measures
  the command latency inside voicemail_svc: from the moment a call event is
  handed to its session (after decoding and validation) to the moment the next
  command for that call has been published, counted once per consumed event
  that is followed by a command.  It also counts the sessions active at once
  and, when started with ``--trace`` (the memory run), reads tracemalloc when
  every caller of the level is on the line.  It counts the call events it
  consumed during a level (each handed to its call's event stream), and runs
  on the event loop ``KZ_EVENT_LOOP`` names (``asyncio`` or ``uvloop``), as
  the runtime does;
* the **load process** (the driver itself): the gateway simulator's scripted
  callers, a router that parks, the executor (action.execute, then a hangup
  after the result, as callflow_svc does) and a notifier that answers
  ``voicemail_new`` with ``completed``;
* the **raw aio-pika baseline** (``raw.py``): a bare aio-pika consumer that
  takes a ~1.5 KB JSON message and publishes one of about the same size in
  answer, loaded from the driver with 64 in flight.  Its CPU time per
  message, read from outside, is the baseline of the service's CPU per call
  event: what consuming one message and publishing one costs a process when
  it does nothing else.

**Placement** (``placement.py``, ``--placement``).  ``unpinned``: every
process where the scheduler puts it.  ``pinned``: the service process (or the
raw baseline) alone on the first core, and the driver with its load and every
thread of the local broker's ``beam.smp`` processes on the other cores; every
affinity changed is put back when the placement ends, also on error or
SIGTERM.  It needs 2 cores and the right to change the broker's affinity
(root, or the broker's user); otherwise the run says why, reports pinned as
n/a and goes on (with only pinned levels in the plan, they run unpinned).

**Event loop** (``--loop``).  The first loop named (``asyncio`` by default)
runs every level; each further one (``uvloop`` by default) runs the largest
level of each kind, pinned when pinned is in the plan, in a fresh service
process: an A/B pair in the same run.

**The plan.**  Every placement and loop runs in a service process of its own,
in this order: unpinned (real time at 10, 100 and 500 callers -- 1 run at 10
and 100, 2 at 500 --, the compressed levels, the traced levels), pinned (the
same real-time levels), then pinned on uvloop (2 runs at 500).  The raw
baseline runs first (5 rounds of 10,000 messages; 2 of 3,000 with
``--quick``).

Two kinds of call, both paced as real callers.  Prompts last the simulator's
lengths (1.5 s each; ``say`` 1 s; the beep 0.6 s); a caller reacts to a prompt
0.5-1.5 s after it ends and types keys 0.3 s apart.

* **compose**: the caller listens to the whole greeting, speaks 10-30 s
  (uniformly drawn), ends the recording with ``#`` and presses ``1`` one
  second after ``vm-review_recording`` starts;
* **check** (``*97``/``*98``): before the level every caller's box gets two
  new messages of 4-12 s each (drawn; they play for their length).  The caller
  types the PIN after ``vm-enter_pass``, presses ``1`` at the main menu, listens
  to the first message and its envelope and saves it (``1``), listens to the
  second and deletes it (``7``), and hangs up at the main menu that follows.

The N callers of a level arrive evenly over ``--ramp`` seconds (10 s by
default; a call lasts 20-60 s, so all N are on the line together).  Each level
runs ``--repeats`` times (the levels of one repeat, then the next), and every
figure is reported per repeat: latency, CPU per call and per consumed call
event (the service's CPU during the level / calls or events), RSS growth.

Memory per session (``--memory``): after the latency levels, one traced level
per kind at the largest level up to 100 callers (``TRACED_CALLS``), always in
real time, in the same service process.  tracemalloc starts when that level
starts and slows the service about tenfold, so its latency is not reported;
at 500 callers the traced service fell behind and never had them all on the
line, which is why the traced level stops at 100.  Once all N sessions are active and ``HOLD_SECONDS`` (8 s;
3 s with ``--quick``) more have passed (callers are then mid-call: recording, or
listening to a message), a full collection runs and the traced memory is read:
what the level allocated and still holds, minus the growth of the in-memory
store (stored messages, reported apart), divided by the active sessions.  It
also lists where that memory was allocated (the innermost frame in this
repository).  Then every caller hangs up, which ends the level.  Memory
allocated before the level and freed during it is not seen, so the figure errs
high; under tracing the service also falls behind, and the events queued for
it are counted as well.

``--quick``: 100 calls in compressed time only (media 20 times faster),
pinned only, 1 run of each kind on asyncio and 1 on uvloop (the same number of
levels as before placements and loops came, so about the same time), the raw
baseline at 2 rounds of 3,000 messages, and (``--memory``) the traced level at
100 callers arriving over 3 s; compressed rows are labelled ``x20`` and are
not comparable with real time: they pack the same commands into far less
time.  A measurement, not a test: it exits 0 unless the broker is unreachable.

Where things are: ``seed.py`` (the account, boxes and messages a level needs),
``load.py`` (the load process: scripted callers, router, executor, notifier),
``measure.py`` (what is measured and how: latency inside the service through
its call factory, sessions and memory per level, CPU and RSS from outside),
``service.py`` (the service process and its driver), ``placement.py`` (pinned
or not), ``raw.py`` (the raw aio-pika baseline), ``run.py`` (the plan of
levels and the loop that runs them), ``report.py`` (the table printed as the
levels run).  ``bench/bench_voicemail.py`` is the command line;
``bench/voicemail_rows.py`` turns the rows into ``python -m bench``'s table.
"""
