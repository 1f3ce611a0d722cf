"""System prompts in the store (media.md 6.7): seeded and imported on every backend, served
through media_req, and the ``kzvoice prompts`` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from services.media import wav
from services.media.seeding import PromptVoice, seed_prompts
from services.media.system_prompts import PROMPT_IDS, PROMPTS
from services.store import open_store

REPO = Path(__file__).resolve().parents[3]


async def test_seeded_prompts_are_served_through_media_req(start_media, store, gateway, prompt_cache):
    voice = PromptVoice(cache_dir=prompt_cache)
    started = time.monotonic()
    report = await seed_prompts(store, voice=voice)
    seconds = time.monotonic() - started
    assert len(report.written) == len(PROMPT_IDS) and report.failed == []
    await start_media(store)
    fetched = await gateway.fetch(await gateway.stream_url("prompt://system_media/vm-enter_pass/en-us"))
    assert fetched.status == 200 and fetched.headers["Content-Type"] == "audio/wav"
    played = wav.duration(fetched.body)
    if shutil.which("espeak-ng"):
        # speech: as long as the words take, not the 1.5 s placeholder tone
        assert voice.spoken + voice.from_cache == len(PROMPT_IDS) and voice.tones == 0
        assert played > 2.0, played
    else:
        assert voice.tones == len(PROMPT_IDS) and played == 1.5
    print(f"seeded {len(PROMPT_IDS)} prompts in {seconds:.2f} s ({voice.spoken} synthesised, "
          f"{voice.from_cache} from the cache)")


async def test_second_seeding_of_a_fresh_store_reads_the_speech_cache(tmp_path):
    cache = tmp_path / "cache"
    for round_ in (1, 2):
        async with open_store(f"sqlite:///{tmp_path / f'store{round_}.sqlite3'}") as store:
            voice = PromptVoice(cache_dir=cache)
            started = time.monotonic()
            await seed_prompts(store, voice=voice)
            seconds = time.monotonic() - started
    if voice.espeak is not None:
        assert (voice.spoken, voice.from_cache) == (0, len(PROMPT_IDS))
    assert seconds < 2.0, seconds     # what a test fixture pays once the cache is warm
    print(f"warm seeding: {seconds:.2f} s")


def _kzvoice(*args: str, store_url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KZ_STORE_URL": store_url, "KZ_LOG_LEVEL": "warning"}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


async def test_prompts_commands_seed_and_import(tmp_path):
    store_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    seeded = _kzvoice("prompts", "seed", "--tone", store_url=store_url, cwd=REPO)
    assert seeded.returncode == 0, seeded.stderr
    assert f"{len(PROMPT_IDS)} written, 0 already stored" in seeded.stdout
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "vm-goodbye.wav").write_bytes(wav.tone(0.7))
    imported = _kzvoice("prompts", "import", str(folder), "--lang", "en-us", store_url=store_url, cwd=REPO)
    assert imported.returncode == 0 and "1 written, 0 unchanged" in imported.stdout and "failed" not in imported.stdout, imported
    again = _kzvoice("prompts", "import", str(folder), "--lang", "en-us", store_url=store_url, cwd=REPO)
    assert "0 written, 1 unchanged" in again.stdout
    async with open_store(store_url) as store:
        audio = await store.get_attachment("system_media", "en-us/vm-goodbye", "vm-goodbye.wav")
        assert wav.duration(audio) == 0.7
        assert (await store.get("system_media", "en-us/vm-goodbye"))["description"] == "vm-goodbye.wav"
    missing = _kzvoice("prompts", "import", str(tmp_path / "nowhere"), store_url=store_url, cwd=REPO)
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    usage = _kzvoice("prompts", store_url=store_url, cwd=REPO)
    assert usage.returncode == 2 and "import" in usage.stderr and "seed" in usage.stderr
    assert len(PROMPTS) == len(PROMPT_IDS)
