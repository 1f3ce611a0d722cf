"""Settings: the process environment, read once, as one frozen object.

Nothing else in kzvoice reads ``os.environ``; services receive a ``Settings``
through their constructors.  ``Settings.from_env`` takes any mapping so tests
can build one without touching the real environment.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_STORE_URL = "sqlite:///./kzvoice.sqlite3"

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_LOG_FORMATS = ("text", "json")
EVENT_LOOPS = ("asyncio", "uvloop")       # KZ_EVENT_LOOP; uvloop needs the [fast] extra


def redact_url(url: str) -> str:
    """A URL without its credentials, for messages a person reads."""
    scheme, sep, rest = url.partition("://")
    _creds, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{host}" if at else url


class SettingsError(ValueError):
    """An environment variable holds a value kzvoice cannot use."""


AMQP_SCHEMES = ("amqp", "amqps")
_URL_SEPARATORS = re.compile(r"[,\s]+")


def parse_amqp_urls(raw: str) -> tuple[str, ...]:
    """The brokers of ``KZ_AMQP_URL``: one URL, or several separated by commas and/or
    whitespace (the nodes of one cluster, as KAZOO lists several ``amqp_uri`` per zone).

    A comma or space is never part of a URL here: one in a password must be written
    ``%2C`` / ``%20`` (percent-encoding is kept as it is).  ``memory://`` stands alone.
    Errors name the entry by position and never echo it, as it may hold a password."""
    entries = [entry for entry in _URL_SEPARATORS.split(raw.strip()) if entry]
    if not entries:
        raise SettingsError("KZ_AMQP_URL is empty: expected amqp://, amqps:// or memory://")
    if len(entries) == 1 and entries[0].startswith("memory://"):
        return (entries[0],)
    hint = ("separate brokers with commas or spaces; a comma or space inside a URL "
            "(e.g. in a password) must be written %2C or %20")
    for position, entry in enumerate(entries, 1):
        where = f"KZ_AMQP_URL entry {position} of {len(entries)}"
        scheme, sep, _rest = entry.partition("://")
        if scheme == "memory" and sep:
            raise SettingsError(f"{where}: memory:// cannot be combined with other brokers")
        if not sep or scheme not in AMQP_SCHEMES:
            raise SettingsError(f"{where} does not start with amqp:// or amqps:// ({hint})")
        parts = urllib.parse.urlsplit(entry)
        try:
            parts.port
        except ValueError:
            raise SettingsError(f"{where} ({scheme}://…@{parts.hostname or '?'}) has an invalid port "
                                f"({hint})") from None
        if not parts.hostname:
            raise SettingsError(f"{where} names no host ({hint})")
    if len(set(entries)) != len(entries):
        raise SettingsError("KZ_AMQP_URL names the same broker twice")
    return tuple(entries)


def redact_urls(urls: str) -> str:
    """``redact_url`` of each broker of a ``KZ_AMQP_URL`` list, comma-separated."""
    try:
        return ", ".join(redact_url(url) for url in parse_amqp_urls(urls))
    except SettingsError:
        return "(KZ_AMQP_URL not understood)"


@dataclass(frozen=True)
class TLSFiles:
    """Certificate files for ``amqps://`` brokers."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class Settings:
    amqp_url: str = DEFAULT_AMQP_URL
    store_url: str = DEFAULT_STORE_URL
    http_port: int = 8080
    http_host: str = "0.0.0.0"
    node: str = field(default_factory=lambda: f"kzvoice@{socket.gethostname()}")
    zone: str = "local"
    log_level: str = "info"
    log_format: str = "text"
    tls: TLSFiles = field(default_factory=TLSFiles)
    # where voicemail keeps recordings that could not be stored yet
    spool_dir: str = "./spool"
    # HMAC secret for signed upload URLs (voicemail storage, bus.md 5.3)
    upload_secret: str = ""
    # base URL the gateway uses to reach our upload endpoint
    public_url: str = ""
    # seconds to finish in-flight work after SIGTERM
    drain_seconds: float = 25.0
    # config.md 3.6: refuse writes to system_config (KZ_SYSTEM_CONFIG_LOCKED)
    system_config_locked: bool = False
    # Python's young-generation collection threshold, set with gc.freeze() once the services run
    # (services.runtime.settle_heap); 0 keeps the interpreter's own thresholds
    gc_gen0: int = 50_000
    # answer media_req (media.md 6.1); off leaves them to KAZOO's media_mgr in a mixed cluster
    media_responder: bool = True
    # lifetime of a signed Stream-URL, seconds (media.md 6.3)
    media_url_ttl_s: int = 7200
    # the event loop the services run on (KZ_EVENT_LOOP): asyncio's own, or uvloop (services.runtime.run_async)
    event_loop: str = "asyncio"
    # where our message schemas live (the repository's schemas/ by default)
    schema_dir: str = field(default_factory=lambda: str(Path(__file__).resolve().parent.parent / "schemas"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def text(name: str, default: str) -> str:
            value = env.get(name)
            return default if value is None or value == "" else value

        def number(name: str, default: float, kind=int):
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                return kind(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None

        level = text("KZ_LOG_LEVEL", "info").lower()
        if level not in _LOG_LEVELS:
            raise SettingsError(f"KZ_LOG_LEVEL={level!r}: expected one of {', '.join(_LOG_LEVELS)}")
        fmt = text("KZ_LOG_FORMAT", "text").lower()
        if fmt not in _LOG_FORMATS:
            raise SettingsError(f"KZ_LOG_FORMAT={fmt!r}: expected text or json")

        event_loop = text("KZ_EVENT_LOOP", "asyncio").strip().lower()
        if event_loop not in EVENT_LOOPS:
            raise SettingsError(f"KZ_EVENT_LOOP={env.get('KZ_EVENT_LOOP')!r}: expected one of {', '.join(EVENT_LOOPS)}")

        amqp_url = text("KZ_AMQP_URL", DEFAULT_AMQP_URL)
        parse_amqp_urls(amqp_url)
        store_url = text("KZ_STORE_URL", DEFAULT_STORE_URL)
        if not store_url.startswith(("sqlite://", "memory://", "http://", "https://")):
            raise SettingsError(f"KZ_STORE_URL={store_url!r}: expected sqlite:///PATH, memory:// or a CouchDB http(s) URL")

        gc_gen0 = number("KZ_GC_GEN0", 50_000)
        if gc_gen0 < 0:
            raise SettingsError(f"KZ_GC_GEN0={gc_gen0}: expected 0 (the interpreter's default) or a positive count")

        media_responder = _switch(text("KZ_MEDIA_RESPONDER", "on"), "KZ_MEDIA_RESPONDER")
        media_url_ttl_s = number("KZ_MEDIA_URL_TTL_S", 7200)
        if media_url_ttl_s <= 0:
            raise SettingsError(f"KZ_MEDIA_URL_TTL_S={media_url_ttl_s}: expected a positive number of seconds")
        public_url = text("KZ_PUBLIC_URL", "")
        if public_url and media_responder and not public_url.startswith("http://"):
            # the media responder hands out Stream-URLs under this base; ecallmgr refuses any but http:// ones
            raise SettingsError(f"KZ_PUBLIC_URL={public_url!r}: media Stream-URLs must start with http:// "
                                "(a gateway refuses others, media.md 6.3); use an http:// address, or "
                                "KZ_MEDIA_RESPONDER=off if another media responder answers media_req")

        port = number("KZ_HTTP_PORT", 8080)
        if not 0 <= port <= 65535:
            raise SettingsError(f"KZ_HTTP_PORT={port}: not a TCP port")

        tls = TLSFiles(
            ca_file=env.get("KZ_AMQP_CA_FILE") or None,
            cert_file=env.get("KZ_AMQP_CERT_FILE") or None,
            key_file=env.get("KZ_AMQP_KEY_FILE") or None,
            verify=text("KZ_AMQP_TLS_VERIFY", "true").lower() not in ("false", "0", "no"),
        )
        for label, path in (("KZ_AMQP_CA_FILE", tls.ca_file), ("KZ_AMQP_CERT_FILE", tls.cert_file),
                            ("KZ_AMQP_KEY_FILE", tls.key_file)):
            if path and not Path(path).is_file():
                raise SettingsError(f"{label}={path!r}: no such file")

        defaults = cls()
        return cls(
            amqp_url=amqp_url,
            store_url=store_url,
            http_port=port,
            http_host=text("KZ_HTTP_HOST", defaults.http_host),
            node=text("KZ_NODE", defaults.node),
            zone=text("KZ_ZONE", "local"),
            log_level=level,
            log_format=fmt,
            tls=tls,
            spool_dir=text("KZ_SPOOL_DIR", defaults.spool_dir),
            upload_secret=text("KZ_UPLOAD_SECRET", ""),
            public_url=public_url,
            drain_seconds=number("KZ_DRAIN_SECONDS", 25.0, float),
            schema_dir=text("KZ_SCHEMA_DIR", defaults.schema_dir),
            gc_gen0=gc_gen0,
            system_config_locked=text("KZ_SYSTEM_CONFIG_LOCKED", "false").lower() in ("true", "1", "yes"),
            media_responder=media_responder,
            media_url_ttl_s=media_url_ttl_s,
            event_loop=event_loop,
        )

    @property
    def amqp_urls(self) -> tuple[str, ...]:
        """``KZ_AMQP_URL`` as a list of brokers (see ``parse_amqp_urls``)."""
        return parse_amqp_urls(self.amqp_url)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def _switch(value: str, name: str) -> bool:
    word = value.strip().lower()
    if word in ("on", "true", "1", "yes"):
        return True
    if word in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{name}={value!r}: expected on or off")


# One row per variable: (name, default, meaning).  The README's table is
# generated from this list so the two cannot drift apart.
ENVIRONMENT = (
    ("KZ_AMQP_URL", DEFAULT_AMQP_URL, "broker, or the nodes of a cluster separated by commas or spaces (a comma or space inside a URL is written `%2C` / `%20`); `memory://` selects the in-process bus"),
    ("KZ_AMQP_CA_FILE", "", "CA bundle for `amqps://` brokers"),
    ("KZ_AMQP_CERT_FILE", "", "client certificate (PEM) for `amqps://`"),
    ("KZ_AMQP_KEY_FILE", "", "client key (PEM) for `amqps://`"),
    ("KZ_AMQP_TLS_VERIFY", "true", "`false` skips broker certificate verification (testing only)"),
    ("KZ_STORE_URL", DEFAULT_STORE_URL, "document store: `sqlite:///PATH`, `memory://`, or a CouchDB URL"),
    ("KZ_HTTP_PORT", "8080", "`/healthz`, `/readyz`, `/metrics`"),
    ("KZ_HTTP_HOST", "0.0.0.0", "address the HTTP endpoints listen on"),
    ("KZ_NODE", "kzvoice@<hostname>", "node name in `Node` headers and node-specific config"),
    ("KZ_ZONE", "local", "zone for zone-specific config"),
    ("KZ_LOG_LEVEL", "info", "debug, info, warning, error"),
    ("KZ_LOG_FORMAT", "text", "`json` for one JSON object per line"),
    ("KZ_SPOOL_DIR", "./spool", "voicemail recordings waiting to be stored"),
    ("KZ_UPLOAD_SECRET", "(random per process)", "HMAC secret signing voicemail upload URLs and media Stream-URLs"),
    ("KZ_PUBLIC_URL", "http://<hostname>:<ephemeral port>", "base URL the gateway uses to upload voicemail recordings and fetch media Stream-URLs (`http://` for a real gateway); its port is that listener's and must differ from KZ_HTTP_PORT"),
    ("KZ_DRAIN_SECONDS", "25", "time allowed to finish in-flight calls after SIGTERM"),
    ("KZ_SYSTEM_CONFIG_LOCKED", "false", "`true` makes the configuration service refuse writes to system_config"),
    ("KZ_GC_GEN0", "50000", "allocations between young-generation garbage collections once services run; `0` keeps Python's default (700)"),
    ("KZ_MEDIA_RESPONDER", "on", "answer the gateway's `media_req` (part of readiness); `off` leaves them to KAZOO's media_mgr (a mixed cluster)"),
    ("KZ_MEDIA_URL_TTL_S", "7200", "seconds a signed media Stream-URL stays valid (any number of GETs)"),
    ("KZ_EVENT_LOOP", "asyncio", "the services' event loop: `asyncio`, or `uvloop` (needs the `fast` extra: `pip install 'kzvoice[fast]'`)"),
    ("KZ_SCHEMA_DIR", "(the repository's schemas/)", "where the message and document schemas are"),
)
