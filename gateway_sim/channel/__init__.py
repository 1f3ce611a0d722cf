"""One simulated call on the gateway: its command queue and what runs on it.

* ``queue``     -- ``CommandQueue``: the queue model of bus.md 4.1, events, dialplan errors, hangup;
* ``execution`` -- a command being carried out, the ``Channel`` it may use, the instant ones and sleep;
* ``playback``  -- play, tts, say, tones, play_and_collect_digits;
* ``recording`` -- record, and the uploads store / store_vm;
* ``state``     -- ``CallState``, the fields every event carries, event Msg-IDs;
* ``outbox``    -- publishes one call's messages in order;
* ``describe``  -- transcript lines for commands and events.
"""

from gateway_sim.channel.execution import ALL_KEYS, terminators_of
from gateway_sim.channel.outbox import Outbox
from gateway_sim.channel.playback import Media
from gateway_sim.channel.queue import CommandQueue
from gateway_sim.channel.recording import Record
from gateway_sim.channel.state import CallState

__all__ = ["ALL_KEYS", "CallState", "CommandQueue", "Media", "Outbox", "Record", "terminators_of"]
