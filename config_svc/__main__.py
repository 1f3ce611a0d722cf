"""``python -m config_svc``: run only the config service (what its container runs)."""

import sys

from services.runtime import run_services

if __name__ == "__main__":
    sys.exit(run_services(["config"]))
