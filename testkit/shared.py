"""The reference data beside the repository: KAZOO's own schemas and documents.

One folder holds it: ``KZ_TEST_SHARED_DIR`` when set, otherwise ``shared`` next to the
repository (``../shared`` seen from its root), with ``kazoo-schemas/`` and
``kazoo-fixtures/`` inside.  Tests ask for a file or folder through ``reference``; when it
is not there they fail with ``MissingReferenceData`` (an ``AssertionError``) naming the
path and the variable.  Nothing is skipped: a checkout without the reference data cannot
pass ``make test``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

ENV = "KZ_TEST_SHARED_DIR"
REPO_ROOT = Path(__file__).resolve().parents[1]


class MissingReferenceData(AssertionError):
    """A file or folder of the reference data is not where it should be."""


def shared_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The reference-data folder (it may not exist; ``reference`` checks)."""
    given = environ.get(ENV)
    return Path(given) if given else REPO_ROOT.parent / "shared"


def reference(*parts: str, environ: Mapping[str, str] = os.environ) -> Path:
    """``shared_dir() / parts``, which must exist."""
    root = shared_dir(environ)
    if not root.is_dir():
        raise MissingReferenceData(f"the reference data folder {root} does not exist; set {ENV} to the "
                                   f"folder holding kazoo-schemas/ and kazoo-fixtures/")
    path = root.joinpath(*parts)
    if not path.exists():
        raise MissingReferenceData(f"{path} is missing from the reference data folder {root} ({ENV})")
    return path


def kazoo_schemas() -> Path:
    return reference("kazoo-schemas")


def kazoo_fixtures() -> Path:
    return reference("kazoo-fixtures")


def kazoo_api_validators() -> dict:
    """Draft 4 validators of KAZOO's message schemas (``kapi.*.json``), by file name.

    The schemas refer to each other by bare name (``"$ref": "kapi.dialplan.tones_req_tone_headers"``),
    so every one goes into one registry."""
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    folder = kazoo_schemas()
    documents = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("kapi.*.json")}
    if not documents:
        raise MissingReferenceData(f"no kapi.*.json schemas in {folder}")
    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=DRAFT4)) for name, doc in documents.items())
    return {f"{name}.json": Draft4Validator(doc, registry=registry) for name, doc in documents.items()}
