"""``kzvoice call``: one scripted call through the gateway simulator against running services."""

from __future__ import annotations

from services.logging import quiet_for_cli
from services.settings import redact_url, redact_urls

import argparse
import asyncio
import json
import sys

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_BROKER = 4
EXIT_FAILED = 5

HELP = """\
Places one call from a device of an account, as KAZOO's gateway would after
the device's INVITE: publishes a route_req (bus from KZ_AMQP_URL, the device,
its owner and its account read from KZ_STORE_URL), takes the first
non-deferred route_resp, sends route_win and usurp_control, then plays the
commands it receives while a scripted caller presses keys, speaks into
recordings and hangs up.  Prints the call's transcript.

SCRIPT is inline JSON (starting with { or [) or a JSON file:

  {"max_duration": 60,
   "steps": [
     {"on": "prompt", "name": "vm-enter_pass", "press": "1234#"},
     {"on": "record_start", "speak": 3.0, "press": "#"},
     {"on": "prompt", "name": "vm-goodbye", "hangup": true}]}

Steps: "on" is prompt (a media named "name" played to its end; "barge": true
acts when it starts; * and ? wildcards), record_start (speak "speak" seconds,
then press, hang up, or stay silent until Silence-Hits ends the recording),
answer, or start (the call was handed to the app).  Actions: "press" (keys),
"hangup", "after" (seconds to wait first); "times" (default 1, null = every
time).  Without a script the caller listens until --timeout.

Every play is resolved as a real gateway does (docs/gateway_sim.md, media):
a media_req answered by voicemail_svc, then a GET of the Stream-URL; a
prompt nobody can serve completes with FILE NOT FOUND (seed the prompts with
`kzvoice prompts seed`).  --audio-out FILE writes what the caller heard.

exit status: 0 the call was connected and ended; 1 rejected (e.g. 604: no
route_resp, nothing answered the route_req); 2 bad arguments or script;
3 unknown account or device; 4 broker unreachable; 5 the call failed.
Errors are one line on stderr.  More in docs/gateway_sim.md.
"""


class CommandError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "call", help="place one scripted call through the gateway simulator and print its transcript",
        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--account", required=True, help="account id of the calling device")
    parser.add_argument("--device", required=True, help="device id (a document of the account database)")
    parser.add_argument("--dial", required=True, help="the number dialled, e.g. *97 or 2000")
    parser.add_argument("--script", help="the caller's script: inline JSON or a JSON file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of text")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="the caller hangs up after S seconds at the latest (default 60)")
    parser.add_argument("--route-timeout", type=float, default=None, metavar="S",
                        help="seconds to wait for route_resps (default 2.75)")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                        help="multiply simulated media time by F (default 1: paced, a prompt lasts 1.5 s)")
    parser.add_argument("--linger", type=float, default=None, metavar="S",
                        help="seconds to keep taking commands after the hangup (default 2)")
    parser.add_argument("--recording-dir", default=None,
                        help="keep recordings here (default: a temporary directory removed at exit)")
    parser.add_argument("--node", default=None, help="the simulator's node name (default freeswitch-sim-<hex>@host)")
    parser.add_argument("--audio-out", default=None, metavar="FILE",
                        help="write what the caller heard (prompts, greetings, beeps, messages, in order) to FILE "
                             "as one 8 kHz mono 16-bit WAV")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_call(args))
    except CommandError as exc:
        print(f"kzvoice call: {exc}", file=sys.stderr)
        return exc.code


def _script(args: argparse.Namespace):
    from gateway_sim.scripts import Script, ScriptError
    try:
        script = Script.parse(args.script) if args.script else Script()
    except ScriptError as exc:
        raise CommandError(f"bad script: {exc}", EXIT_USAGE) from None
    if script.max_duration is None or script.max_duration > args.timeout:
        script.max_duration = args.timeout
    return script


async def _call(args: argparse.Namespace) -> int:
    from services.bus import BusError
    from services.runtime import ServiceContext
    from services.settings import Settings, SettingsError
    from services.store import StoreError

    from gateway_sim.config import GatewayConfig
    from gateway_sim.gateway import Gateway
    from gateway_sim.routing import EndpointError

    if args.timeout <= 0 or args.time_scale <= 0:
        raise CommandError("--timeout and --time-scale must be positive", EXIT_USAGE)
    script = _script(args)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    quiet_for_cli(settings.log_level)
    changes = {"time_scale": args.time_scale, "max_call_seconds": args.timeout,
               "recording_dir": args.recording_dir}
    if args.route_timeout is not None:
        changes["route_timeout"] = args.route_timeout
    if args.linger is not None:
        changes["post_hangup_linger"] = args.linger
    if args.node:
        changes["node"] = args.node
    if args.audio_out:
        changes["keep_audio"] = True
    config = GatewayConfig().with_(**changes)
    context = ServiceContext(settings)
    gateway = None
    try:
        try:
            bus = await asyncio.wait_for(context.bus("freeswitch"), 10)
        except (BusError, OSError, asyncio.TimeoutError) as exc:
            cause = exc.__cause__ or exc
            raise CommandError(f"broker unreachable at {redact_urls(settings.amqp_url)} "
                               f"({str(cause) or type(cause).__name__})", EXIT_BROKER) from None
        try:
            store = await context.store()
        except StoreError as exc:
            raise CommandError(f"store unavailable at {redact_url(settings.store_url)} ({exc})", EXIT_FAILED) from None
        gateway = Gateway(bus, store, config)
        await gateway.start()
        try:
            result = await gateway.place_call(account_id=args.account, device_id=args.device, dial=args.dial,
                                              script=script)
        except EndpointError as exc:
            raise CommandError(str(exc), EXIT_UNKNOWN) from None
        except StoreError as exc:
            raise CommandError(f"store error: {exc}", EXIT_FAILED) from None
        if args.json:
            print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        else:
            print(result)
        if args.audio_out:
            from gateway_sim import audio_out
            try:
                written = await asyncio.to_thread(audio_out.write, args.audio_out, result.heard)
            except OSError as exc:
                raise CommandError(f"cannot write {args.audio_out}: {exc.strerror or exc}", EXIT_FAILED) from None
            print(f"kzvoice call: wrote {written.seconds:.1f} s of what the caller heard to {args.audio_out}",
                  file=sys.stderr)
        if result.status == "rejected":
            hint = " (nothing answered the route_req: is callflow_svc running?)" if result.reject_code == "604" \
                and not result.route_responses else ""
            raise CommandError(f"call rejected: {result.reject_code} {result.reject_message}{hint}", EXIT_REJECTED)
        if result.status == "failed":
            raise CommandError(f"call failed: {result.error}", EXIT_FAILED)
        return EXIT_OK
    finally:
        if gateway is not None:
            await gateway.stop()
        await context.close()
