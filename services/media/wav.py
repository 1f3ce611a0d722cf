"""The audio kzvoice makes itself: 8 kHz mono 16-bit PCM WAV (media.md 6.7).

* :func:`tone` -- a soft tone of a given length, the placeholder where no speech
  synthesiser is installed;
* :func:`to_telephone_wav` -- any 16-bit PCM WAV (espeak-ng writes 22050 Hz) as
  8 kHz mono, the rate a telephone call carries;
* :func:`duration` -- how long a WAV plays (frames / rate), None for other data.

Pure computation on bytes: callers run it where blocking does not matter (it takes
milliseconds for a prompt).
"""

from __future__ import annotations

import array
import io
import math
import sys
import wave

RATE = 8000
PLACEHOLDER_HZ = 660.0      # not the 440 Hz of the voicemail beep, so the two are told apart
_AMPLITUDE = 6000           # about -15 dBFS
_FADE_S = 0.02


def _wav(samples: array.array, rate: int = RATE) -> bytes:
    if sys.byteorder != "little":
        samples = array.array("h", samples)
        samples.byteswap()
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return out.getvalue()


def tone(seconds: float, *, frequency: float = PLACEHOLDER_HZ, rate: int = RATE) -> bytes:
    """``seconds`` of a sine tone with short fades, as a WAV file."""
    count = max(1, round(seconds * rate))
    fade = max(1, round(_FADE_S * rate))
    step = 2 * math.pi * frequency / rate
    samples = array.array("h", bytes(2 * count))
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        samples[i] = int(_AMPLITUDE * envelope * math.sin(step * i))
    return _wav(samples, rate)


def to_telephone_wav(data: bytes, *, rate: int = RATE) -> bytes:
    """A 16-bit PCM WAV (any rate, mono or stereo) as mono at ``rate``.  Down-sampling
    averages the source samples each output sample covers (a box filter against aliasing)."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise ValueError(f"expected 16-bit PCM, got {8 * reader.getsampwidth()}-bit samples")
        channels, source_rate = reader.getnchannels(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    samples = array.array("h")
    samples.frombytes(frames)
    if sys.byteorder != "little":
        samples.byteswap()
    if channels > 1:
        samples = array.array("h", (sum(samples[i:i + channels]) // channels
                                    for i in range(0, len(samples), channels)))
    if source_rate == rate:
        return _wav(samples, rate)
    prefix = [0]
    for value in samples:
        prefix.append(prefix[-1] + value)
    ratio = source_rate / rate
    count = int(len(samples) / ratio)
    out = array.array("h", bytes(2 * count))
    for i in range(count):
        start = int(i * ratio)
        end = max(start + 1, min(len(samples), int((i + 1) * ratio)))
        out[i] = (prefix[end] - prefix[start]) // (end - start)
    return _wav(out, rate)


def duration(data: bytes) -> float | None:
    """Seconds a WAV file plays; None when ``data`` is not a WAV file this module can read."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            return reader.getnframes() / reader.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError):
        return None
