"""`kzvoice demo` runs on the embedded defaults and shows what it claims to show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_demo_runs_on_the_in_process_bus_and_shows_each_step():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KZ_")}
    env["PYTHONPATH"] = str(ROOT)
    # an unreachable broker address: the demo must not need one
    done = subprocess.run([sys.executable, "-m", "services.cli", "demo", "--json", "--time-scale", "0.02"],
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
