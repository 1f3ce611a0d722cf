"""What the caller heard, as one WAV file (``kzvoice call --audio-out``, ``kzvoice demo --audio-out``).

Every media the caller heard (``CallResult.heard``, in order) becomes its simulated length
of 8 kHz mono 16-bit PCM:

* fetched bytes that are a 16-bit PCM WAV (prompts, greetings, messages) and a
  recording of the call played back (read from its file): their samples, converted to 8 kHz mono, cut at the length played (a
  terminator, the hangup) and padded with silence when the play lasted longer (a
  configured length);
* ``tones``, ``tone_stream://`` and a failed play: nothing real to play -- tones get a
  440 Hz tone, the rest silence;
* anything else (``say:``, ``tts``, silence, an MP3 body the simulator cannot decode):
  silence of its length.

The gateway must keep the fetched bytes: ``GatewayConfig(keep_audio=True)``.
"""

from __future__ import annotations

import array
import io
import math
import os
import sys
import wave
from dataclasses import dataclass
from typing import Iterable

from services.media import wav

RATE = 8000
_BEEP_HZ = 440.0
_AMPLITUDE = 6000


@dataclass(frozen=True)
class Written:
    path: str
    seconds: float
    segments: int
    from_bytes: int        # segments whose samples came from fetched bytes


def _pcm(data: bytes) -> array.array | None:
    """The samples of a 16-bit PCM WAV as 8 kHz mono; None for anything else."""
    try:
        converted = wav.to_telephone_wav(data, rate=RATE)
        with wave.open(io.BytesIO(converted), "rb") as reader:
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, ValueError):
        return None
    samples = array.array("h")
    samples.frombytes(frames)
    if sys.byteorder != "little":
        samples.byteswap()
    return samples


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _tone(count: int) -> array.array:
    step = 2 * math.pi * _BEEP_HZ / RATE
    return array.array("h", (int(_AMPLITUDE * math.sin(step * i)) for i in range(count)))


def segment(heard) -> tuple[array.array, bool]:
    """The samples of one heard media, and whether they came from fetched bytes."""
    count = max(0, round(heard.seconds * RATE))
    fetched = heard.fetched
    data = fetched.data if fetched is not None and fetched.ok else None
    if fetched is not None and fetched.ok and data is None and fetched.path:
        data = _read(fetched.path)              # a recording of the call, played back
    if data:
        samples = _pcm(data)
        if samples is not None:
            samples = samples[:count]
            if len(samples) < count:
                samples.extend(array.array("h", bytes(2 * (count - len(samples)))))
            return samples, True
    if heard.app == "tones" or heard.media_name.startswith("tone_stream://"):
        return _tone(count), False
    return array.array("h", bytes(2 * count)), False


def write(path: str | os.PathLike, heard: Iterable) -> Written:
    """Write ``heard`` (``CallResult.heard``) to ``path`` as one 8 kHz mono 16-bit WAV."""
    samples = array.array("h")
    segments = from_bytes = 0
    for item in heard:
        part, real = segment(item)
        samples.extend(part)
        segments += 1
        from_bytes += real
    if sys.byteorder != "little":
        samples.byteswap()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())
    return Written(str(path), len(samples) / RATE, segments, from_bytes)
