"""Media naming, recording paths, content types and WAV files (bus.md 5.1, 5.2, 8.6)."""

from __future__ import annotations

import array
import wave

import pytest

from gateway_sim import media


@pytest.mark.parametrize("name,expected", [
    ("prompt://4fe69c5b61015084f1fe5684abc6e502/vm-enter_pass/en-us", "vm-enter_pass"),
    ("prompt://system_media/vm-goodbye/fr-fr", "vm-goodbye"),
    ("/system_media/vm-you_have", "vm-you_have"),
    ("/4fe69c5b61015084f1fe5684abc6e502/3a8f0c2b5d6e4f7a", "3a8f0c2b5d6e4f7a"),
    ("greeting-id", "greeting-id"),
    ("tts://Hello there", "tts:Hello there"),
    ("http://media.example.com/x.mp3", "http://media.example.com/x.mp3"),
    ("silence_stream://50", "silence_stream://50"),
])
def test_prompt_id_of_every_media_name_form(name, expected):
    assert media.prompt_id(name) == expected


def test_media_label_names_what_scripts_match():
    assert media.media_label("play", {"Media-Name": "prompt://a/vm-x/en-us"}) == "vm-x"
    assert media.media_label("tts", {"Text": "hi"}) == "tts:hi"
    assert media.media_label("say", {"Say-Text": "42"}) == "say:42"
    assert media.media_label("tones", {"Tones": []}) == "tones"


def test_media_seconds_overrides_and_silence_streams():
    overrides = {"vm-long": 9.0, "/system_media/x": 2.0}
    assert media.media_seconds("vm-long", "prompt://a/vm-long/en-us", default=1.5, overrides=overrides) == 9.0
    assert media.media_seconds("x", "/system_media/x", default=1.5, overrides=overrides) == 2.0
    assert media.media_seconds("silence_stream://250", "silence_stream://250", default=1.5, overrides={}) == 0.25
    assert media.media_seconds("vm-other", "vm-other", default=1.5, overrides=overrides) == 1.5


def test_tones_seconds_sum_on_and_off_times_repeats():
    beep = [{"Frequencies": ["440"], "Duration-ON": "500", "Duration-OFF": "100"}]
    assert media.tones_seconds(beep) == 0.6
    assert media.tones_seconds(beep + [{"Duration-ON": 200, "Duration-OFF": 0, "Repeat": "3"}]) == pytest.approx(1.2)


@pytest.mark.parametrize("name,expected", [
    ("5d41402abc4b2a76b9719d911017c592.mp3", "5d41402abc4b2a76b9719d911017c592.mp3"),
    ("5d41402abc4b2a76b9719d911017c592.wav", "5d41402abc4b2a76b9719d911017c592.wav"),
    ("msg.mp4", "msg.mp4"),
    ("greeting", "greeting.mp3"),
    ("greeting.txt", "greeting%2Etxt.mp3"),
    ("my name.mp3", "my+name.mp3"),
    ("/var/spool/x/abc.wav", "abc.wav"),
    ("../../etc/passwd", "passwd.mp3"),
])
def test_recording_path_follows_the_naming_rule_inside_the_recording_dir(tmp_path, name, expected):
    path = media.recording_path(tmp_path, name)
    assert path.parent == tmp_path and path.name == expected


@pytest.mark.parametrize("name,content_type", [
    ("/tmp/abc.mp3", "audio/mpeg"), ("abc.wav", "audio/wav"), ("abc.MP3", "audio/mpeg"),
    ("abc.mp4", "audio/mp4"), ("abc", "application/octet-stream")])
def test_content_type_from_the_attachment_name(name, content_type):
    assert media.content_type_for(name) == content_type


def test_write_wav_makes_8khz_mono_pcm_with_speech_then_silence(tmp_path):
    path = tmp_path / "x.mp3"
    size = media.write_wav(path, speech_ms=1000, total_ms=1500)
    assert size == path.stat().st_size
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (1, 2, 8000, 12000)
        samples = array.array("h", wav.readframes(12000))
    assert max(samples[:8000]) > 1000 and min(samples[:8000]) < -1000
    assert not any(samples[8000:])


def test_recordings_are_found_by_base_name_only(tmp_path):
    recordings = media.Recordings(tmp_path)
    path = media.recording_path(tmp_path, "abc.mp3")
    media.write_wav(path, speech_ms=10, total_ms=10)
    recordings.add(media.RecordingInfo(str(path), "abc.mp3", 10, path.stat().st_size, "call"))
    assert recordings.path_for("/tmp/abc.mp3") == path
    assert recordings.path_for("abc.mp3") == path
    assert recordings.path_for("/tmp/other.mp3") is None
    assert recordings.path_for("/tmp/..") is None
    # a file of the directory that was not recorded by this process is found too
    other = tmp_path / "old.wav"
    media.write_wav(other, speech_ms=0, total_ms=10)
    assert recordings.path_for("/tmp/old.wav") == other
