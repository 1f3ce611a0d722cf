"""``kzvoice config``: the operator's tool for system and account configuration (see ``HELP``)."""

from __future__ import annotations

from services.logging import quiet_for_cli
from services.settings import redact_urls

import argparse
import asyncio
import json
import sys
from typing import Any

from services.config.paths import InvalidKey, split_dotted, to_wire_key
from services.config.propagation import announced_now
from services.store import layout

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_NO_REPLY = 3
EXIT_BROKER = 4

_JSON_LEADERS = ("{", "[", '"')

HELP = """\
Publishes sysconf requests on the bus (KZ_AMQP_URL) and prints the reply, like
KAZOO's 'sup kapps_config ...'; a running config_svc (or KAZOO's sysconf)
answers.  'kzvoice config set-default callflow dialog_subscribed_mwi_prefix *98'
does what 'sup kapps_config set_default callflow dialog_subscribed_mwi_prefix *98'
does.

KEY    a dotted key is a path, as under sup: voicemail.max_message_count is
       ["voicemail","max_message_count"]; --literal-key sends it as one key.
VALUE  JSON when it parses (50 -> 50, true -> true, '{"a":1}' -> an object,
       null -> delete the key), otherwise the text itself (*98 -> "*98").
       --string always sends the text.  JSON is expected when the text starts
       with {, [ or ", or with --json: then text that does not parse is an
       error, not a string.  --default of 'get' follows the same rule.

exit status: 0 done; 1 refused by config_svc (error, locked, unknown account);
2 bad arguments or bad JSON; 3 no reply within --timeout; 4 broker unreachable.
Each error is one line on stderr.
"""


class CommandError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def parse_value(text: str, *, force_string: bool = False, force_json: bool = False) -> Any:
    """The VALUE rule above."""
    if force_string:
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        if force_json or text.lstrip().startswith(_JSON_LEADERS):
            raise CommandError(f"value {text!r} is not valid JSON ({exc.msg} at column {exc.colno}); "
                               f"use --string to send it as text", EXIT_USAGE) from None
        return text


def parse_key(text: str, *, literal: bool = False) -> str | list[str]:
    try:
        return text if literal else to_wire_key(split_dotted(text))
    except InvalidKey as exc:
        raise CommandError(f"bad key: {exc}", EXIT_USAGE) from None


def parse_account(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return layout.to_account_id(text)
    except layout.InvalidName:
        raise CommandError(f"unknown account {text!r}: expected a 32-character account id or its "
                           f"database name (account%2F../account/..)", EXIT_USAGE) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config", help="read and change configuration through config_svc (like sup kapps_config)",
        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="config_action")

    def common(p: argparse.ArgumentParser, *, value: bool = False, account: bool = True) -> None:
        p.add_argument("category", metavar="CATEGORY", help="config document, e.g. callflow")
        p.add_argument("key", metavar="KEY", help="key; dots make a path (voicemail.max_message_count)")
        if value:
            p.add_argument("value", metavar="VALUE", help="JSON if it parses, else text; null deletes the key")
            p.add_argument("--string", action="store_true", help="send VALUE as text even if it is valid JSON")
            p.add_argument("--json", action="store_true", help="VALUE must be valid JSON")
        if account:
            p.add_argument("--account", metavar="ID", help="an account's override (configs_CATEGORY) instead")
        p.add_argument("--literal-key", action="store_true", help="send KEY as one key even if it has dots")
        p.add_argument("--timeout", metavar="S", type=float, default=5.0, help="seconds to wait (default 5)")

    p = actions.add_parser("get", help="print a value (node, zone, default; or an account's)",
                           description="Print the value config_svc answers (JSON), or 'undefined'.")
    common(p)
    p.add_argument("--node", metavar="NODE",
                   help="look in this node's section, then the zone's, then default "
                        "(without it: the default section only)")
    p.add_argument("--default", metavar="JSON", help="value to use -- and store -- when missing")
    p.add_argument("--strategy", choices=("account", "global", "reseller", "hierarchy_merge"),
                   help="account lookup (with --account; default global)")
    p.set_defaults(func=_run, action="get")

    p = actions.add_parser("set", help="store a value in the default section (or an account's override)",
                           description="Store VALUE at KEY in the default section, or with --account in "
                                       "the account's configs_CATEGORY document.")
    common(p, value=True)
    p.set_defaults(func=_run, action="set")

    p = actions.add_parser("set-default", help="store a value in the default section (sup set_default)",
                           description="Store VALUE at KEY in the default section of system_config/CATEGORY.")
    common(p, value=True, account=False)
    p.set_defaults(func=_run, action="set-default")

    p = actions.add_parser("set-node", help="store a value in one node's (or zone's) section",
                           description="Store VALUE at KEY in the section named --node of system_config/CATEGORY.")
    common(p, value=True, account=False)
    p.add_argument("--node", metavar="NODE", required=True, help="node (name@host) or zone section to write")
    p.set_defaults(func=_run, action="set-node")

    p = actions.add_parser("flush", help="tell every service to drop what it caches for CATEGORY",
                           description="Publish a flush_req for CATEGORY (no reply is expected).")
    p.add_argument("category", metavar="CATEGORY")
    p.add_argument("key", metavar="KEY", nargs="?", help="accepted for compatibility; the whole category is flushed")
    p.add_argument("--literal-key", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--timeout", metavar="S", type=float, default=5.0, help="seconds to wait for the broker")
    p.set_defaults(func=_run, action="flush")

    parser.set_defaults(func=lambda _args: (parser.print_help(), EXIT_USAGE)[1])


def build_request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(catalogue key, fields) for the parsed command; raises CommandError on bad input."""
    action = args.action
    fields: dict[str, Any] = {"Category": args.category}
    if args.key is not None:
        fields["Key"] = parse_key(args.key, literal=args.literal_key)
    if action == "flush":
        return "sysconf.flush_req", fields
    account = parse_account(getattr(args, "account", None))
    if account:
        fields["Account-ID"] = account
    if action == "get":
        if args.default is not None:
            fields["Default"] = parse_value(args.default)
        if args.node:
            fields["Node"] = args.node
        else:
            fields["Node"] = "default"
        if args.strategy:
            if not account:
                raise CommandError("--strategy needs --account", EXIT_USAGE)
            fields["Strategy"] = args.strategy
        return "sysconf.get_req", fields
    fields["Value"] = parse_value(args.value, force_string=args.string, force_json=args.json)
    if fields["Value"] == "":
        raise CommandError("an empty VALUE cannot be sent (the bus treats \"\" as no value); "
                           "use null to delete the key", EXIT_USAGE)
    if action == "set-node":
        fields["Node-Specific"] = True
        fields["Node"] = args.node
    return "sysconf.set_req", fields


def _run(args: argparse.Namespace) -> int:
    try:
        spec_key, fields = build_request(args)
        return asyncio.run(_exchange(spec_key, fields, timeout=args.timeout))
    except CommandError as exc:
        print(f"kzvoice config: {exc}", file=sys.stderr)
        return exc.code


async def _exchange(spec_key: str, fields: dict[str, Any], *, timeout: float) -> int:
    from services.bus import BusError, RequestTimeout
    from services.messages import catalogue
    from services.messages.errors import InvalidMessage
    from services.runtime import ServiceContext
    from services.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    quiet_for_cli(settings.log_level)
    context = ServiceContext(settings)
    spec = catalogue.get(spec_key)
    try:
        try:
            bus = await asyncio.wait_for(context.bus("kzvoice-config"), timeout)
        except (BusError, OSError, asyncio.TimeoutError) as exc:
            cause = exc.__cause__ or exc
            reason = str(cause) or type(cause).__name__
            raise CommandError(f"broker unreachable at {redact_urls(settings.amqp_url)} ({reason})",
                               EXIT_BROKER) from None
        if spec_key == "sysconf.flush_req":
            await bus.publish(spec, fields, headers=announced_now())
            print(f"flush_req published for {fields['Category']}")
            return 0
        try:
            bus.publisher.build(spec, fields)
        except InvalidMessage as exc:
            raise CommandError(f"invalid request: {exc}", EXIT_USAGE) from None
        replies = await bus.reply_queue("kzvoice-config")
        try:
            reply = await replies.request(spec, fields, timeout=timeout)
        except RequestTimeout:
            raise CommandError(f"no reply from config_svc within {timeout:g}s (is config_svc running?)",
                               EXIT_NO_REPLY) from None
        finally:
            await replies.close()
        return _report(spec_key, fields, reply)
    finally:
        await context.close()


def _report(spec_key: str, fields: dict[str, Any], reply) -> int:
    if spec_key == "sysconf.get_req":
        if reply.get("Error-Message"):
            raise CommandError(reply["Error-Message"], EXIT_REFUSED)
        value = reply.get("Value")
        print(value if value == "undefined" else json.dumps(value, ensure_ascii=False))
        return 0
    status = reply.get("Status", "success")
    where = (f"account {fields['Account-ID']}" if "Account-ID" in fields
             else f"section {fields['Node']!r}" if fields.get("Node-Specific") else "section 'default'")
    key = fields["Key"] if isinstance(fields["Key"], str) else ".".join(fields["Key"])
    if status == "success":
        print(f"{fields['Category']} {key} = {json.dumps(reply.get('Value'), ensure_ascii=False)} ({where})")
        return 0
    if status == "locked":
        raise CommandError("system_config is locked (KZ_SYSTEM_CONFIG_LOCKED); nothing was stored", EXIT_REFUSED)
    raise CommandError(f"config_svc refused the write: {reply.get('Error-Message') or status}", EXIT_REFUSED)
