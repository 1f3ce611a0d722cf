"""k8s/tools/kzvoice_secrets.py, imported by path (it is a script, not a package module)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parents[3] / "k8s" / "tools" / "kzvoice_secrets.py"


def load():
    name = "kzvoice_secrets_tool"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def build_secrets(**options):
    return load().build(**options)
