"""``python -m voicemail_svc``: run the voicemail service alone (what a container runs)."""

import sys

from services.runtime import run_services


def main() -> int:
    return run_services(["voicemail"])


if __name__ == "__main__":
    sys.exit(main())
