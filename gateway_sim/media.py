"""Media on the simulated media server: names, durations, recordings, uploads.

* ``media_label`` turns a media command into the name the transcript and the
  scripted callers use: the prompt id of ``prompt://<account>/<id>/<lang>``
  (bus.md 5.1), ``tts:<text>``, ``say:<text>``, ``tones``;
* ``recording_path`` applies the recording-name rule of bus.md 5.2 inside our
  own recording directory;
* ``write_wav`` writes what the caller "said": 8 kHz mono 16-bit PCM, a tone
  for the speech followed by silence;
* ``Recordings`` finds a recording again by its base name (bus.md 8.6);
* ``upload`` HTTP-PUTs (or POSTs) a recording with the Content-Type its name's
  extension calls for.
"""

from __future__ import annotations

import array
import logging
import math
import os
import sys
import wave
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from services.exchanges import encode_word

log = logging.getLogger(__name__)

RECORDING_EXTENSIONS = (".mp3", ".mp4", ".wav")
CONTENT_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".mp4": "audio/mp4"}


# ---- names -------------------------------------------------------------------------

def prompt_id(media_name: str) -> str:
    """The short name of a media: the prompt id of prompt:// and /system_media/ names, the media
    id of ``/<account>/<media>``, ``tts:<text>`` for tts://, the name itself otherwise."""
    name = media_name.strip()
    if name.startswith("prompt://"):
        parts = name[len("prompt://"):].split("/")
        # prompt://<account id | system_media>/<prompt id>/<lang>
        if len(parts) >= 2 and parts[1]:
            return parts[1]
        return parts[0]
    if name.startswith("tts://"):
        return "tts:" + name[len("tts://"):]
    if name.startswith("/system_media/"):
        return name[len("/system_media/"):]
    if "://" in name:
        return name
    if name.startswith("/"):
        parts = [p for p in name.split("/") if p]
        return parts[-1] if parts else name
    return name


def media_label(application: str, command: Mapping[str, Any]) -> str:
    """What a media command plays, as scripts match it."""
    if application in ("play", "play_and_collect_digits"):
        return prompt_id(str(command.get("Media-Name", "")))
    if application == "tts":
        return "tts:" + str(command.get("Text", ""))
    if application == "say":
        return "say:" + str(command.get("Say-Text", ""))
    if application == "tones":
        return "tones"
    return application


def configured_seconds(label: str, media_name: str, overrides: Mapping[str, float]) -> float | None:
    """A test-configured length of one media (by label or full name), else None."""
    for key in (label, media_name):
        if key in overrides:
            return float(overrides[key])
    return None


def media_seconds(label: str, media_name: str, *, default: float, overrides: Mapping[str, float],
                  body_seconds: float | None = None) -> float:
    """Simulated duration of one media (media.md 6.6 rule 6): an override by label or full
    name wins; else the fetched body's own length (a WAV file's frames / rate); else the
    length a ``silence_stream://<ms>`` names; else ``default``."""
    configured = configured_seconds(label, media_name, overrides)
    if configured is not None:
        return configured
    if body_seconds is not None:
        return body_seconds
    if media_name.startswith("silence_stream://"):
        raw = media_name[len("silence_stream://"):].split(",")[0]
        if raw.isdigit():
            return int(raw) / 1000.0
    return default


def tones_seconds(tones: Any) -> float:
    """Simulated duration of a ``tones`` command: sum of (on + off) times repeats."""
    total_ms = 0
    for tone in tones if isinstance(tones, list) else []:
        if not isinstance(tone, Mapping):
            continue
        on = _int(tone.get("Duration-ON"), 0)
        off = _int(tone.get("Duration-OFF"), 0)
        repeat = max(1, _int(tone.get("Repeat"), 1))
        total_ms += (on + off) * repeat
    return total_ms / 1000.0


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def recording_path(directory: str | os.PathLike, media_name: str) -> Path:
    """Where ``record`` writes ``media_name`` (bus.md 5.2): the extension is kept if it is .mp3,
    .mp4 or .wav, else .mp3 is appended; the base name is routing-key encoded.

    (ours) The file always lands in our recording directory, even when the name is an
    absolute path: the simulator never writes outside it.  Only the base name matters to
    the apps (b_record and send_http match on it).
    """
    name = media_name.replace("\\", "/").rsplit("/", 1)[-1]
    root, ext = os.path.splitext(name)
    if ext.lower() in RECORDING_EXTENSIONS and root:
        base, suffix = root, ext
    else:
        base, suffix = name, ".mp3"
    return Path(directory) / (encode_word(base) + suffix)


def content_type_for(name: str) -> str:
    """Content-Type of an upload from the attachment name's extension (bus.md 8.6)."""
    ext = os.path.splitext(name.rsplit("/", 1)[-1])[1].lower()
    return CONTENT_TYPES.get(ext, "application/octet-stream")


# ---- WAV -----------------------------------------------------------------------------

_TONE_HZ = 400           # 20 samples per period at 8 kHz
_AMPLITUDE = 6000


def write_wav(path: str | os.PathLike, *, speech_ms: int, total_ms: int, sample_rate: int = 8000) -> int:
    """Write ``total_ms`` of mono 16-bit PCM: a tone for the first ``speech_ms``, then silence.
    Returns the file size in bytes."""
    total = max(0, int(total_ms)) * sample_rate // 1000
    speech = min(total, max(0, int(speech_ms)) * sample_rate // 1000)
    period = [int(_AMPLITUDE * math.sin(2 * math.pi * _TONE_HZ * i / sample_rate))
              for i in range(sample_rate)]
    samples = array.array("h")
    while len(samples) < speech:
        samples.extend(period[: speech - len(samples)])
    samples.extend(array.array("h", bytes(2 * (total - speech))))
    if samples.itemsize != 2:  # pragma: no cover - every CPython platform has 16-bit shorts
        raise RuntimeError("16-bit samples needed")
    if sys.byteorder == "big":  # WAV is little-endian
        samples.byteswap()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())
    return Path(path).stat().st_size


# ---- recordings ----------------------------------------------------------------------

@dataclass(frozen=True)
class RecordingInfo:
    path: str
    media_name: str
    length_ms: int
    size: int
    call_id: str


class Recordings:
    """The recordings of one gateway, found again by base name."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._by_name: dict[str, RecordingInfo] = {}

    def add(self, info: RecordingInfo) -> None:
        self._by_name[os.path.basename(info.path)] = info

    def recorded_on_call(self, media_name: str, call_id: str) -> RecordingInfo | None:
        """The latest recording the call made under ``media_name`` (media.md 2.3: ecallmgr plays
        such a name from the local file), or None."""
        found = None
        for info in self._by_name.values():
            if info.call_id == call_id and info.media_name == media_name and os.path.exists(info.path):
                found = info
        return found

    def path_for(self, file_name: str) -> Path | None:
        """The recorded file whose base name is the base name of ``file_name`` (``/tmp/<name>``)."""
        base = os.path.basename(file_name.replace("\\", "/"))
        if not base or base in (".", ".."):
            return None
        info = self._by_name.get(base)
        if info is not None and os.path.exists(info.path):
            return Path(info.path)
        candidate = self.directory / base
        if candidate.is_file():
            return candidate
        return None

    def __iter__(self):
        return iter(self._by_name.values())


# ---- uploads -------------------------------------------------------------------------

@dataclass(frozen=True)
class UploadOutcome:
    ok: bool
    status: int | None = None
    error: str | None = None
    size: int = 0


def _headers(additional: Any) -> dict[str, str]:
    """``Additional-Headers``: strings ``Name: value`` (or objects of name -> value)."""
    headers: dict[str, str] = {}
    for item in additional if isinstance(additional, list) else []:
        if isinstance(item, str) and ":" in item:
            name, _, value = item.partition(":")
            headers[name.strip()] = value.strip()
        elif isinstance(item, Mapping):
            headers.update({str(k): str(v) for k, v in item.items()})
    return headers


async def upload(session: aiohttp.ClientSession, path: Path, url: str, *, method: str = "put",
                 attachment_name: str | None = None, additional_headers: Any = None,
                 timeout: float = 60.0) -> UploadOutcome:
    """Send the file's bytes to ``url``; ok iff the server answers 2xx."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        return UploadOutcome(False, error=f"unsupported URL scheme {scheme or '(none)'!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return UploadOutcome(False, error=f"cannot read {path.name}: {exc.strerror or exc}")
    headers = {"Content-Type": content_type_for(attachment_name or path.name)}
    headers.update(_headers(additional_headers))
    verb = "POST" if method.lower() == "post" else "PUT"
    try:
        async with session.request(verb, url, data=data, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            await resp.read()
            if 200 <= resp.status < 300:
                return UploadOutcome(True, status=resp.status, size=len(data))
            return UploadOutcome(False, status=resp.status, error=f"HTTP {resp.status} {resp.reason or ''}".strip(),
                                 size=len(data))
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return UploadOutcome(False, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
