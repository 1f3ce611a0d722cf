"""How long validating one incoming message takes.

Run with ``python -m bench.bench_validation [--quick] [--repeats N] [--number N]``.

Times ``Validator.validate`` (our compiled fastjsonschema validators) and
``Validator.parse`` (identify + validate + wrap) for a KAZOO-size route_req
and a CHANNEL_EXECUTE_COMPLETE event, and, in the same run, jsonschema's
precompiled validator on the same schema and body, so the ratio holds even
where absolute numbers move from machine to machine.  The target is at most
10 µs per validation.  This is a measurement, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable

from jsonschema import Draft7Validator

from bench.common import Result, add_common_arguments, median, run_module, spread, verdict
from services.messages import catalogue
from services.messages.validation import Validator

TARGET_US = 10.0

ACCOUNT_ID = "4fe69c5b61015084f1fe5684abc6e502"
FETCH_ID = "a60aea8c-67f2-11e5-8465-3390f8e3460f"
CALL_ID = "at6dmu4ffk97vnlp6qfq"


def kazoo_route_req() -> dict[str, Any]:
    """A route_req the size ecallmgr sends (about 1.7 KB): bus.md 3.1 plus the switch and SIP fields."""
    return {
        "Event-Category": "dialplan", "Event-Name": "route_req", "App-Name": "freeswitch", "App-Version": "1.0",
        "Node": "freeswitch@fs1.example.com", "Msg-ID": FETCH_ID, "Server-ID": "pid://<0.4567.0>/gw-ctl-7f3a",
        "Call-ID": CALL_ID, "Resource-Type": "audio", "Call-Direction": "inbound",
        "Request": "*97@acme.example.com", "To": "*97@acme.example.com", "From": "356@acme.example.com",
        "Caller-ID-Name": "web phone", "Caller-ID-Number": "356", "Destination-Number": "*97",
        "From-Tag": "a8b7c6d5e4", "To-Tag": "", "Context": "context_2", "Media": "process",
        "Switch-Hostname": "fs1.example.com", "Switch-Nodename": "freeswitch@fs1.example.com",
        "Switch-URL": "sip:mod_sofia@10.1.2.3:11000", "Switch-URI": "sip:10.1.2.3:5060",
        "User-Agent": "Yealink SIP-T46S 66.86.0.15", "Origination-Call-ID": CALL_ID,
        "Codecs": "PCMU,PCMA,G722,OPUS", "Max-Call-Length": "10800",
        "Custom-SIP-Headers": {"X-AUTH-IP": "10.1.2.100", "X-AUTH-PORT": "5060"},
        "Custom-Application-Vars": {"Caller-Screen": "false"},
        "Custom-Channel-Vars": {
            "Account-ID": ACCOUNT_ID, "Authorizing-ID": "d509114b66efabf32dfd78dc464b46dd",
            "Authorizing-Type": "device", "Owner-ID": "699ed7e3d583e2577ac017c575f87262",
            "Fetch-ID": FETCH_ID, "Realm": "acme.example.com", "Username": "user_356",
            "Call-Interaction-ID": "63877478400-8a7b6c5d", "Channel-Authorized": "true",
            "Ecallmgr-Node": "ecallmgr@ap1.example.com", "Inception": "on-net", "Media-Encryption": "none",
            "Register-Overwrite-Notify": "false", "SIP-Invite-Domain": "acme.example.com",
            "Reseller-ID": "4fe69c5b61015084f1fe5684abc6e502", "Account-Name": "Acme Widgets",
        },
    }


def channel_execute_complete() -> dict[str, Any]:
    """bus.md 3.5's example with the common fields mod_kazoo adds."""
    return {
        "Event-Category": "call_event", "Event-Name": "CHANNEL_EXECUTE_COMPLETE", "App-Name": "freeswitch",
        "App-Version": "1.0", "Node": "freeswitch@fs1.example.com", "Msg-ID": "1710259200123456",
        "Timestamp": 63877478400, "Call-ID": CALL_ID, "Application-Name": "noop",
        "Application-Response": "9f0e7a2c4b3d4c1e8f6a5b4c3d2e1f00", "Raw-Application-Name": "noop",
        "Application-UUID": "9f0e7a2c4b3d4c1e8f6a5b4c3d2e1f00", "Call-Direction": "inbound",
        "Caller-ID-Name": "web phone", "Caller-ID-Number": "356", "Channel-State": "EXECUTE",
        "Channel-Call-State": "ACTIVE", "Channel-Answer-State": "answered", "Presence-ID": "356@acme.example.com",
        "Custom-Channel-Vars": {"Account-ID": ACCOUNT_ID, "Fetch-ID": FETCH_ID,
                                "Authorizing-ID": "d509114b66efabf32dfd78dc464b46dd", "Authorizing-Type": "device",
                                "Owner-ID": "699ed7e3d583e2577ac017c575f87262",
                                "CallFlow-ID": "3a8f0c2b5d6e4f7a8b9c0d1e2f3a4b5c", "Application-Name": "callflow"},
    }


def per_call_us(fn: Callable[[], Any], *, number: int, repeats: int) -> list[float]:
    """Microseconds per call, one figure per repeat."""
    for _ in range(min(number, 200)):  # warm up
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return samples


def collect(args) -> Result:
    if args.quick:
        args.repeats, args.number = 3, 5000
    validator = Validator()
    compile_start = time.perf_counter()
    validator.compile_all()
    compile_ms = (time.perf_counter() - compile_start) * 1e3

    cases = [("route_req", catalogue.ROUTE_REQ, kazoo_route_req()),
             ("CHANNEL_EXECUTE_COMPLETE", catalogue.CALL_EVENTS["CHANNEL_EXECUTE_COMPLETE"],
              channel_execute_complete())]
    print(f"compile_all: {compile_ms:.0f} ms for {len(list(catalogue.all_specs()))} schemas; "
          f"{args.repeats} rounds of {args.number} calls; µs per call, median [min-max]", flush=True)
    result = Result()
    for label, spec, body in cases:
        validator.validate(spec, body)  # must be valid before it is timed
        schema = json.loads((validator.schema_dir / spec.schema).read_text(encoding="utf-8"))
        reference = Draft7Validator(schema)
        reference.validate(body)
        fast = per_call_us(lambda: validator.validate(spec, body), number=args.number, repeats=args.repeats)
        parse = per_call_us(lambda: validator.parse(body), number=args.number, repeats=args.repeats)
        slow = per_call_us(lambda: reference.validate(body), number=max(1, args.number // 20), repeats=args.repeats)
        size = len(json.dumps(body, separators=(",", ":")))
        result.add("validation", f"{label} ({size} B) validate, vs jsonschema", spread(fast, "{:.2f}", "us"),
                   spread(slow, "{:.1f}", "us"), median(fast) / median(slow), f"<= {TARGET_US:g} us",
                   verdict(median(fast) <= TARGET_US),
                   note=f"{args.repeats} rounds of {args.number} calls; baseline jsonschema Draft7Validator, "
                        "precompiled, same schema and body")
        result.add("validation", f"{label} parse (identify+validate+wrap)", spread(parse, "{:.2f}", "us"),
                   target=f"<= {TARGET_US:g} us", verdict=verdict(median(parse) <= TARGET_US))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per case (default 7)")
    parser.add_argument("--number", type=int, default=20000, help="validations per round (default 20000)")
    add_common_arguments(parser)
    return run_module(collect, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
