"""Gateway simulator: a stand-in for KAZOO's ecallmgr + FreeSWITCH on the bus (docs/gateway_sim.md).

Public API::

    from gateway_sim import Gateway, GatewayConfig, Script, CallResult, seed_device

* ``Gateway(bus, store, config)`` -- ``await start()``, ``await place_call(...) -> CallResult``,
  ``await start_call(...) -> Call`` (a handle: ``press``, ``hangup``, ``speak``, ``finished``),
  ``await stop()``;
* ``Script`` -- what the scripted caller does (``on_prompt``, ``on_record_start``, ...), or JSON;
* ``seed_account`` / ``seed_user`` / ``seed_device`` -- put calling devices into a store.
"""

from gateway_sim.config import GatewayConfig
from gateway_sim.gateway import Call, CallResult, Gateway
from gateway_sim.routing import Endpoint, EndpointError
from gateway_sim.scripts import Script, ScriptError
from gateway_sim.seed import seed_account, seed_device, seed_user
from gateway_sim.transcript import Transcript

__all__ = ["Gateway", "GatewayConfig", "Call", "CallResult", "Endpoint", "EndpointError", "Script",
           "ScriptError", "Transcript", "seed_account", "seed_user", "seed_device"]
