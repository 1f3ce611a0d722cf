"""Everything a voicemail session needs to know about its box, resolved once per call.

``Profile`` is frozen: keymap (voicemail.md 10.2), limits, timers and flags,
taken from the box document, the callflow node's data and configuration
(voicemail.md 9) in one place, ``load_profile``.  Sessions never read the box
document or configuration for these again: when a session saves the box from
the phone, ``profile.with_box(box)`` reads the box's flags (``is_setup``,
``require_pin``, ``skip_envelope``, ``announcement_only``, ...) once more.

API (stable; ``check`` uses it too)::

    profile = await load_profile(config, box=box, data=data, account_id=call.account_id,
                                 mailboxes=mailboxes)
    profile.keys.login, profile.keys.save, ...        # Keys, see below
    profile.interdigit_ms, profile.max_message_length_s, profile.min_message_size_ms, ...

``config`` is a ``services.config.ConfigClient`` (or ``None``: built-in defaults
only, for tools and tests that run without config_svc).

Precedence rules worth knowing (voicemail.md 1, 0.5):

* record time limit: callflow data (positive), else box, else config;
* interdigit timeout: box, else callflow data, else ``call_command``;
* after a box typed in by number, call ``load_profile`` with ``data={"id": box_id}``
  so the callflow's values no longer apply.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, fields, replace
from collections.abc import Mapping
from typing import Any

from services.config import keys as config_keys
from voicemail_svc.call_control import Timers
from voicemail_svc.boxes.mailbox import Mailbox, Mailboxes, is_true

log = logging.getLogger(__name__)

DTMF_KEYS = frozenset("0123456789*#")
MEDIA_EXTENSIONS = ("mp3", "mp4", "wav")

# fixed values of voicemail.md 9 ("not configurable")
MAIN_MENU_LOOPS = 4
REVIEW_LOOPS = 4
CONFIG_MENU_SELECTIONS = 3
NEW_PIN_TRIES = 3
ANNOUNCE_WAIT_MS = 5 * 60 * 1000
GREETING_TIME_LIMIT_S = 300
SILENCE_THRESHOLD = 200
SILENCE_HITS = 5

# keys that cannot be remapped (10.2)
FIXED_KEYS = {
    "config_record_temporary": "4", "config_delete_temporary": "5", "config_toggle_announcement": "6",
    "message_forward": "3", "message_callback": "9",
    "prepend_record": "1", "prepend_as_is": "2", "prepend_cancel": "0",
}


@dataclass(frozen=True)
class Keys:
    """The DTMF key map (voicemail.md 10.2).  ``continue_`` is ``None`` unless configured.

    Config names are the field names, except ``continue_`` (``continue``).  The
    schema's names ``rec_unavailable``, ``rec_name`` and ``return_main`` are read
    too; the code's names (``record_unavailable``, ``record_name``,
    ``return_main_menu``) win when both are set (spec README, defects we fix).
    """

    login: str = "*"
    operator: str = "0"
    continue_: str | None = None
    save: str = "1"
    listen: str = "2"
    record: str = "3"
    hear_new: str = "1"
    hear_saved: str = "2"
    configure: str = "5"
    exit: str = "#"
    record_unavailable: str = "1"
    record_name: str = "2"
    set_pin: str = "3"
    return_main_menu: str = "0"
    keep: str = "1"
    replay: str = "2"
    prev: str = "4"
    rewind: str = "5"
    next: str = "6"
    delete: str = "7"
    fastforward: str = "8"

    @classmethod
    def from_config(cls, value: Any) -> "Keys":
        """Keys from a ``keys.voicemail`` object; missing or invalid entries keep the defaults."""
        if not isinstance(value, Mapping):
            return cls()
        aliases = {"record_unavailable": "rec_unavailable", "record_name": "rec_name",
                   "return_main_menu": "return_main"}
        chosen: dict[str, Any] = {}
        for f in fields(cls):
            config_name = "continue" if f.name == "continue_" else f.name
            for name in (config_name, aliases.get(config_name)):
                if name is None:
                    continue
                key = value.get(name)
                if isinstance(key, str) and key in DTMF_KEYS:
                    chosen[f.name] = key
                    break
                if key is not None:
                    log.warning("keys.voicemail.%s = %r is not a DTMF key; ignored", name, key)
        return cls(**chosen)


@dataclass(frozen=True)
class Profile:
    """One call's voicemail settings (see the module docstring)."""

    keys: Keys = Keys()
    # timers (ms)
    interdigit_ms: int = Timers.interdigit_timeout_ms       # call_command defaults, kept in one place
    collect_timeout_ms: int = Timers.collect_timeout_ms
    application_timeout_ms: int = 500000
    notify_timeout_ms: int = 30000
    # recording and storage
    max_message_length_s: int = 500
    min_message_size_ms: int = 500
    max_message_count: int = 100
    media_extension: str = "mp3"
    retention_days: int = 93
    transcribe: bool = False
    after_notify: str = "nothing"           # nothing | save | delete (8.5)
    vm_delete_amqp: bool = False
    # check limits
    max_login_attempts: int = 3
    max_pin_length: int = 6
    max_box_number_length: int = 15
    require_pin: bool = False               # box require_pin or force_require_pin
    force_require_pin: bool = False
    # playback
    ff_rw_enabled: bool = False
    seek_duration_ms: int = 10000
    forward_type: str = "only_forward"
    operator_number: str = "0"
    timezone: str = "America/Los_Angeles"
    # box flags (voicemail.md 2.1)
    skip_greeting: bool = False
    skip_instructions: bool = False
    skip_envelope: bool = False
    announcement_only: bool = False
    play_greeting_intro: bool = False
    use_person_not_available: bool = False
    check_if_owner: bool = False
    is_setup: bool = False
    not_configurable: bool = False
    oldest_message_first: bool = False

    def with_box(self, box: Mailbox) -> "Profile":
        """This profile after ``box`` was saved from the phone (new PIN, greeting, setup done, announcement
        toggled): the box's flags read again, everything else (config, callflow data) as it was."""
        return replace(self, **box_flags(box, force_require_pin=self.force_require_pin))


BOX_FLAGS = ("skip_greeting", "skip_instructions", "skip_envelope", "announcement_only", "play_greeting_intro",
             "use_person_not_available", "check_if_owner", "is_setup", "not_configurable", "oldest_message_first")


def box_flags(box: Mailbox | None, *, force_require_pin: bool) -> dict[str, bool]:
    """The profile fields that are the box's own flags (voicemail.md 2.1); all false without a box."""
    def flag(name: str) -> bool:
        return box.flag(name) if box is not None else False

    return {
        "require_pin": force_require_pin or flag("require_pin"),
        **{name: flag(name) for name in BOX_FLAGS},
    }


def positive_int(value: Any) -> int | None:
    """A positive integer from an integer or a numeric string; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and value.is_integer():
        return int(value) if value > 0 else None
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return None
        return number if number > 0 else None
    return None


def non_neg_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value >= 0 else None


class _Defaults:
    """Config reads when no config client is available: every read gives its default."""

    async def get_integer(self, _c, _k, default=None, **_w):
        return default

    get_is_true = get_boolean = get_ne_binary = get_non_neg_integer = get_pos_integer = get_integer

    async def get(self, _c, _k, default=None, **_w):
        return default

    async def resolve(self, _c, _k, default=None, **_w):
        from services.config.paths import MISSING
        return MISSING if default is None else default


async def load_profile(config, *, box: Mailbox | None, data: Mapping[str, Any], account_id: str,
                       mailboxes: Mailboxes | None = None) -> Profile:
    """Resolve the profile of ``box`` (``None``: no box; box fields take their defaults)."""
    config = config if config is not None else _Defaults()
    account = account_id or None
    doc: Mapping[str, Any] = box.doc if box is not None else {}

    def box_flag(name: str, default: bool = False) -> bool:
        return box.flag(name, default) if box is not None else default

    # every read at once: on a cold cache they are sysconf round trips, and they do not depend on each other
    reads = {
        "keys": config.get("keys", "voicemail", account=account),
        "interdigit": config.get_integer("call_command", "interdigit_timeout", 2000),
        "collect": config.get_integer("call_command", "collect_timeout", 5000),
        "application": config.get_integer("call_command", "application_timeout", 500000),
        "notify": config.get_integer("notify", "notify_publisher_timeout_ms", 30000),
        "max_length": config.get_integer("callflow", ["voicemail", "max_message_length"], 500),
        "extension": config.get_ne_binary("callflow", ["voicemail", "extension"], "mp3", account=account),
        "transcribe": config.get_is_true("callflow", ["voicemail", "transcribe_default"], False),
        "save_after": config.get_is_true("callflow", ["voicemail", "save_after_notify"], False),
        "delete_after": config.get_is_true("callflow", ["voicemail", "delete_after_notify"], False),
        "delete_amqp": config.get_boolean("callflow", ["voicemail", "vm_delete_amqp"], False),
        "force_pin": config.get_is_true("callflow", ["voicemail", "force_require_pin"], False),
        "ff_rw": config.get_is_true("callflow", ["voicemail", "is_voicemail_ff_rw_enabled"], False),
        "seek": config.get_non_neg_integer("callflow", ["voicemail", "seek_duration_ms"], 10000),
        "forward_type": config.get_ne_binary("callflow", ["voicemail", "vm_message_forward_type"], "only_forward"),
        "operator_key": config.get_ne_binary("callflow", "operator_key", "0"),
        "login_attempts": config.get_integer("callflow", ["voicemail", "max_login_attempts"], 3),
        "pin_length": config.get_integer("callflow", ["voicemail", "max_pin_length"], 6),
        "box_number_length": config.get_integer("callflow", ["voicemail", "max_box_number_length"], 15),
    }
    if not isinstance(config, _Defaults):
        reads["min_size"] = config_keys.min_message_size(config, account)
        reads["max_count"] = config_keys.max_message_count(config, account)
        reads["retention"] = config_keys.message_retention_days(config, account)
    if mailboxes is not None:
        reads["timezone"] = mailboxes.timezone(box)
    c = dict(zip(reads, await asyncio.gather(*reads.values())))

    keys = Keys.from_config(c["keys"])
    interdigit = positive_int(doc.get("interdigit_timeout")) or positive_int(data.get("interdigit_timeout")) \
        or c["interdigit"]
    max_length = positive_int(data.get("max_message_length")) or positive_int(doc.get("max_message_length")) \
        or c["max_length"]
    min_size = c.get("min_size", config_keys.MIN_MESSAGE_SIZE_MS)
    max_count = c.get("max_count", config_keys.MAILBOX_DEFAULT_SIZE)
    retention = c.get("retention", config_keys.RETENTION_DAYS)

    extension = doc.get("media_extension")
    if extension not in MEDIA_EXTENSIONS:
        extension = c["extension"] if c["extension"] in MEDIA_EXTENSIONS else "mp3"

    transcribe = box.flag("transcribe") if box is not None and box.has("transcribe") else bool(c["transcribe"])
    save_after = box.flag("save_after_notify") if box is not None and box.has("save_after_notify") else \
        bool(c["save_after"])
    delete_after = box.flag("delete_after_notify") if box is not None and box.has("delete_after_notify") else \
        bool(c["delete_after"])
    after_notify = "save" if save_after else "delete" if delete_after else "nothing"

    force_pin = bool(c["force_pin"])
    seek = non_neg_int(doc.get("seek_duration_ms"))
    if seek is None:
        seek = c["seek"]

    operator_number = doc.get("operator_number")
    if isinstance(operator_number, bool) or operator_number in (None, ""):
        operator_number = c["operator_key"]
    elif isinstance(operator_number, (int, float)):
        operator_number = str(int(operator_number))

    return Profile(
        keys=keys,
        interdigit_ms=int(interdigit),
        collect_timeout_ms=int(c["collect"]),
        application_timeout_ms=int(c["application"]),
        notify_timeout_ms=int(c["notify"]),
        max_message_length_s=int(max_length),
        min_message_size_ms=int(min_size),
        max_message_count=int(max_count),
        media_extension=str(extension),
        retention_days=int(retention),
        transcribe=transcribe,
        after_notify=after_notify,
        vm_delete_amqp=bool(c["delete_amqp"]),
        max_login_attempts=int(c["login_attempts"]),
        max_pin_length=int(c["pin_length"]),
        max_box_number_length=int(c["box_number_length"]),
        force_require_pin=force_pin,
        ff_rw_enabled=bool(c["ff_rw"]) and box_flag("is_voicemail_ff_rw_enabled"),
        seek_duration_ms=int(seek),
        forward_type=str(c["forward_type"]),
        operator_number=str(operator_number),
        timezone=c.get("timezone", "America/Los_Angeles"),
        **box_flags(box, force_require_pin=force_pin),
    )


__all__ = ["Keys", "Profile", "load_profile", "FIXED_KEYS", "is_true", "positive_int"]
