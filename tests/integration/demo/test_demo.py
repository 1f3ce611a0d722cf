"""`kzvoice demo` runs on the embedded defaults and shows what it claims to show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_demo_runs_on_the_in_process_bus_and_shows_each_step(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KZ_")}
    env["PYTHONPATH"] = str(ROOT)
    audio = tmp_path / "heard.wav"
    # an unreachable broker address: the demo must not need one
    done = subprocess.run([sys.executable, "-m", "services.cli", "demo", "--json", "--time-scale", "0.02",
                           "--audio-out", str(audio)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    sections = {s["title"]: s["result"] for s in json.loads(done.stdout)}
    assert sections["config"]["read_back"] == "*98"
    assert sections["welcome line"]["status"] == "completed"
    assert any(p.endswith("demo-welcome") for p in sections["welcome line"]["prompts"])
    edited = sections["welcome line after the edit"]
    assert any(p.endswith("demo-edited-greeting") for p in edited["prompts"])
    assert not any(p.endswith("demo-welcome") for p in edited["prompts"])
    assert sections["a number with no callflow"]["status"] == "rejected"
    assert sections["a number with no callflow"]["reject_code"] == "604"

    # voicemail: a message left by one caller is found by the box owner's later call
    left = sections["Bob leaves Ann a message"]
    assert left["status"] == "completed" and len(left["uploads"]) == 1 and "vm-saved" in left["prompts"]
    heard = sections["Ann checks her voicemail with *97 and hears the message"]["prompts"]
    assert heard[:3] == ["vm-you_have", "say:1", "vm-new_message"]
    # the message itself played, from voicemail_svc's signed Stream-URL of its recording (media.md 6.5)
    assert any(p.startswith("http://") and "/media/" in p and p.endswith(".mp3") for p in heard), heard
    asked = sections["Bob uses *98 and types the box number"]["prompts"]
    assert asked[:2] == ["vm-enter_id", "vm-enter_pass"] and "vm-saved_message" in asked
    direct = sections["Ann uses the feature code *98<box>"]["prompts"]
    assert "vm-enter_id" not in direct and "vm-saved_message" in direct
    lamps = sections["mwi"]
    assert lamps[0] == {"to": "1000@demo.kzvoice.example", "new": 1, "saved": 0, "blf": "*981000"}
    assert lamps[-1]["new"] == 0 and lamps[-1]["saved"] == 1

    # every play resolved through media_req + GET (media.md 6.6): prompts, greetings, the message
    calls = {title: body for title, body in sections.items() if isinstance(body, dict) and "media" in body}
    for title, body in calls.items():
        assert [m for m in body["media"] if not m["ok"]] == [], title
        assert not any("FILE NOT FOUND" in step["text"] for step in body["transcript"]), title
    message = [m for m in calls["Ann checks her voicemail with *97 and hears the message"]["media"]
               if m["via"] == "url"]
    assert len(message) == 1 and message[0]["bytes"] == left["recordings"][0]["size"]

    # --audio-out: one 8 kHz mono 16-bit WAV as long as everything the callers heard
    with wave.open(str(audio), "rb") as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (8000, 1, 2)
        seconds = reader.getnframes() / 8000
        first = reader.readframes(800)
    heard = sum(h["seconds"] for body in calls.values() for h in body["heard"])
    assert heard > 10 and abs(seconds - heard) < 0.01 * len(calls) + 0.01
    assert any(first[i:i + 2] != b"\0\0" for i in range(0, len(first), 2))    # demo-welcome's samples, not silence
