"""``kzvoice prompts import DIR [--lang L]`` and ``kzvoice prompts seed`` (media.md 6.7)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from services.media.system_prompts import PROMPT_IDS
from services.store import open_store
from services.store.commands import command_settings, run_on_store, usage


def register(subparsers: argparse._SubParsersAction) -> None:
    prompts = subparsers.add_parser(
        "prompts", help="system prompts in the store (prompts import DIR, prompts seed)",
        description="Put the audio of system prompts into the system_media database of the store named by "
                    "KZ_STORE_URL, where the media responder finds them. Without them every prompt a call "
                    "asks for ends in not_found.",
    )
    actions = prompts.add_subparsers(title="actions", metavar="ACTION")

    load = actions.add_parser(
        "import", help="load every *.wav and *.mp3 of a folder as prompts",
        description="Load every *.wav and *.mp3 file of DIR as a system prompt, as KAZOO's importer does: the "
                    "file's base name is the prompt id (vm-enter_pass.wav -> prompt vm-enter_pass), the "
                    "extension gives the content type. Safe to repeat: prompts with the same bytes are left "
                    "alone, changed ones are replaced.",
    )
    load.add_argument("directory", type=Path, help="folder holding the audio files")
    load.add_argument("--lang", help="their language (default: media.default_language, en-us unless configured)")
    load.set_defaults(func=run_import)

    seed = actions.add_parser(
        "seed", help="write a placeholder for every prompt the services use that is not stored yet",
        description=f"Write a placeholder for each of the {len(PROMPT_IDS)} prompts the services can ask for "
                    "that system_media does not hold yet in the language: the prompt's words spoken by "
                    "espeak-ng when it is installed (English only), otherwise a 1.5 s tone; 8 kHz mono 16-bit "
                    "WAV. Prompts already stored are never replaced.",
    )
    seed.add_argument("--lang", help="language to seed (default: media.default_language, en-us unless configured)")
    seed.add_argument("--tone", action="store_true", help="tones only, even where espeak-ng is installed")
    seed.add_argument("--cache-dir", type=Path,
                      help="where generated speech is kept between runs (default ~/.cache/kzvoice/prompts)")
    seed.set_defaults(func=run_seed)
    prompts.set_defaults(func=lambda args: usage(prompts))


def run_import(args: argparse.Namespace) -> int:
    from services.media.seeding import import_prompts

    settings = command_settings()
    if not args.directory.is_dir():
        print(f"kzvoice prompts import: {args.directory}: no such folder", file=sys.stderr)
        return 2

    async def main() -> int:
        async with open_store(settings.store_url) as store:
            report = await import_prompts(store, args.directory, language=args.lang)
        for prompt_id in report.written:
            print(f"written {report.language}/{prompt_id}", flush=True)
        for line in report.failed:
            print(f"error: {line}", file=sys.stderr, flush=True)
        print(report.summary("unchanged"), flush=True)
        return 1 if report.failed else 0

    return run_on_store("prompts import", main)


def run_seed(args: argparse.Namespace) -> int:
    from services.media.seeding import PromptVoice, seed_prompts

    settings = command_settings()

    async def main() -> int:
        voice = PromptVoice(cache_dir=args.cache_dir, espeak=None if args.tone else "auto")
        started = time.monotonic()
        async with open_store(settings.store_url) as store:
            report = await seed_prompts(store, language=args.lang, voice=voice)
        how = "tones" if voice.espeak is None or not voice.speaks(report.language) else "espeak-ng speech"
        print(f"{report.summary()} in {time.monotonic() - started:.1f} s ({how}; {voice.spoken} synthesised, "
              f"{voice.from_cache} from the cache)", flush=True)
        return 1 if report.failed else 0

    return run_on_store("prompts seed", main)
