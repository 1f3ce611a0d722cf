"""``python -m callflow_svc``: run the callflow service alone (what a container runs)."""

import sys

from services.runtime import run_services


def main() -> int:
    return run_services(["callflow"])


if __name__ == "__main__":
    sys.exit(main())
