"""``--audio-out``: what the caller heard, written as one 8 kHz mono 16-bit WAV (gateway_sim.audio_out)."""

from __future__ import annotations

import array
import io
import wave

from gateway_sim import audio_out
from gateway_sim.channel.playback import Heard
from gateway_sim.lookup import Fetched
from services.media import wav


def _samples(data: bytes) -> array.array:
    with wave.open(io.BytesIO(data), "rb") as reader:
        frames = reader.readframes(reader.getnframes())
    samples = array.array("h")
    samples.frombytes(frames)
    return samples


def heard(label: str, seconds: float, *, data: bytes | None = None, name: str | None = None, app: str = "play",
          ok: bool = True) -> Heard:
    fetched = None if data is None and ok else Fetched(name or label, "media_req", ok, size=len(data or b""),
                                                        data=data)
    return Heard(app, label, name or label, fetched, seconds, {})


def test_the_fetched_samples_follow_each_other_with_literals_as_silence_or_tone(tmp_path):
    prompt = wav.tone(0.5, frequency=500.0)
    message = wav.tone(0.25, frequency=1000.0)
    items = [heard("vm-you_have", 0.5, data=prompt), heard("say:1", 1.0, name="say:1"),
             heard("tones", 0.125, app="tones", name=""), heard("msg", 0.25, data=message),
             heard("vm-missing", 0.0, ok=False)]
    out = tmp_path / "heard.wav"
    written = audio_out.write(out, items)
    assert written.segments == 5 and written.from_bytes == 2
    with wave.open(str(out), "rb") as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (8000, 1, 2)
        assert reader.getnframes() == 8000 * (0.5 + 1.0 + 0.125 + 0.25)
    got = _samples(out.read_bytes())
    assert got[:4000] == _samples(prompt)                       # the prompt's own samples
    assert set(got[4000:12000]) == {0}                          # say: as silence of its length
    assert any(got[12000:13000])                                # the beep as a tone
    assert got[13000:15000] == _samples(message)                # the message's samples


def test_a_play_cut_short_keeps_only_what_was_heard_and_a_longer_one_is_padded(tmp_path):
    prompt = wav.tone(1.0)
    out = tmp_path / "heard.wav"
    audio_out.write(out, [heard("cut", 0.25, data=prompt), heard("padded", 1.5, data=prompt)])
    got = _samples(out.read_bytes())
    whole = _samples(prompt)
    assert len(got) == 2000 + 12000
    assert got[:2000] == whole[:2000]
    assert got[2000:10000] == whole and set(got[10000:]) == {0}


def test_a_body_that_is_not_a_wav_is_silence(tmp_path):
    out = tmp_path / "heard.wav"
    written = audio_out.write(out, [heard("mp3", 0.5, data=b"ID3 not really an mp3")])
    assert written.from_bytes == 0 and set(_samples(out.read_bytes())) == {0}
