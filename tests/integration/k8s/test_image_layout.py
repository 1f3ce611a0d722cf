"""The image's layout without Docker (no engine runs here): the Dockerfile's own COPY lines are
replayed into a scratch folder, the package is built and installed the way the build stage
does (a wheel, not an editable install), the schemas go where the runtime stage puts them,
and each service is started with the image's ENV exactly as its CMD would: ``python -m <svc>``.

What this shows: the installed package finds everything it needs (the schemas through
KZ_SCHEMA_DIR, because the installed default points into site-packages where there are
none), each entry point becomes ready, and SIGTERM ends it with exit code 0. What it does
not show: the base image, the virtualenv copy between stages, file ownership.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.unit.k8s.dockerfile import REPO, env_of_final_stage, instructions

pytestmark = pytest.mark.integration

MODULES = ("config_svc", "callflow_svc", "voicemail_svc")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """(site-packages folder, runtime root) of the replayed image."""
    root = tmp_path_factory.mktemp("image")
    items = instructions()
    last = max(i.stage for i in items)
    src = root / "src"
    src.mkdir()
    for item in items:
        if item.keyword != "COPY" or any(w.startswith("--from") for w in item.words()):
            continue
        *sources, dest = item.words()
        for source in sources:
            origin = REPO / source
            if item.stage == last:                     # the runtime stage: absolute destinations
                target = root / "rootfs" / dest.lstrip("/")
            else:                                      # the build stage: relative to WORKDIR /src
                target = src / dest
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target if not dest.endswith("/") else target / origin.name)
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("kzvoice-*.whl"))
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return site, root / "rootfs", env_of_final_stage(items)


def image_env(image, **extra: str) -> dict[str, str]:
    site, rootfs, env = image
    out = {k: v for k, v in os.environ.items() if not k.startswith("KZ_") and k != "PYTHONPATH"}
    for key, value in env.items():
        if key.startswith("KZ_") and value.startswith("/"):
            value = str(rootfs / value.lstrip("/"))     # the image's paths, under the scratch root
        if key != "PATH":
            out[key] = value
    # the venv's interpreter brings the dependencies; the package itself comes only from the wheel
    out["PYTHONPATH"] = str(site)
    out.update(extra)
    return out


def test_the_installed_package_is_the_wheel_not_the_repository(image, tmp_path):
    site, _rootfs, _env = image
    done = subprocess.run([sys.executable, "-c", "import services, callflow_svc, voicemail_svc, config_svc; "
                           "from services.settings import Settings; import pathlib; "
                           "print(services.__file__); print(Settings().schema_dir); "
                           "print(pathlib.Path(Settings().schema_dir).is_dir())"],
                          cwd=tmp_path, env=image_env(image), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    module_file, default_schema_dir, exists = done.stdout.split()
    assert Path(module_file).is_relative_to(site)
    # why the image sets KZ_SCHEMA_DIR: the package's own default names a folder that is not installed
    assert exists == "False", default_schema_dir


@pytest.mark.parametrize("module", MODULES)
def test_each_entry_point_becomes_ready_and_stops_cleanly(image, tmp_path, module):
    port = free_port()
    env = image_env(image, KZ_AMQP_URL="memory://image", KZ_STORE_URL="memory://", KZ_HTTP_PORT=str(port),
                    KZ_HTTP_HOST="127.0.0.1", KZ_LOG_LEVEL="info", KZ_DRAIN_SECONDS="3")
    spool = Path(env["KZ_SPOOL_DIR"])
    spool.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", module], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, deadline = None, time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    status = resp.status
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert status == 200, f"{module} never became ready"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            assert b"kzvoice_messages_consumed_total" in resp.read()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = proc.stdout.read()
    assert code == 0, output
    # the image's KZ_LOG_FORMAT=json: one JSON object a line, ending with the drain
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(line["msg"].startswith("stop requested; draining") for line in lines), output


def test_the_operator_tool_and_the_init_step_run_from_the_image(image, tmp_path):
    # `kzvoice config …` (toolbox, Job) and `kzvoice db init` (config_svc's init container)
    env = image_env(image, KZ_STORE_URL="memory://")
    help_text = subprocess.run([sys.executable, "-m", "services.cli", "config", "--help"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0 and "set-default" in help_text.stdout, help_text.stderr
    init = subprocess.run([sys.executable, "-m", "services.cli", "db", "init"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert init.returncode == 0 and "store ready" in init.stdout, init.stderr
