"""A throwaway CouchDB-API server for tests and benchmarks: pouchdb-server, in memory or on disk.

pouchdb-server comes from npm, installed into the repository's ``node_modules`` by
``npm install`` (``package.json`` at the repository root).  :class:`PouchDBServer`
starts it on a free loopback port in a private working folder (it writes its
``config.json`` and ``log.txt`` into the current folder), creates an admin and stops
it afterwards.  The admin matters: couchdb3 authenticates with a session cookie,
which a server without admins refuses, and pouchdb-server crashes on an
unauthenticated ``PUT /db`` once an admin exists, so every request must carry the
credentials.

With ``data_dir`` the databases (LevelDB files) and the server's ``config.json`` live in
that folder instead of memory, so a server killed with ``kill()`` (``SIGKILL``, as a crash)
can be started again with ``start()`` on the same data and the same port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_HINT = ("pouchdb-server is needed for the CouchDB tests: install Node.js (18 or later) and npm, "
                "then run `npm install` in the repository root (it reads package.json); "
                "or set KZ_TEST_COUCH_URL to a CouchDB 3 server with an admin")


class PouchDBServerError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pouchdb_server_command() -> list[str]:
    """The command that runs pouchdb-server, or :class:`PouchDBServerError` saying what
    to install."""
    binary = REPO_ROOT / "node_modules" / ".bin" / "pouchdb-server"
    if not binary.exists():
        raise PouchDBServerError(f"{binary.relative_to(REPO_ROOT)} not found. {INSTALL_HINT}")
    if shutil.which("node") is None:
        raise PouchDBServerError(f"`node` is not on PATH. {INSTALL_HINT}")
    return [str(binary)]


class PouchDBServer:
    """``with PouchDBServer() as url:`` gives ``http://admin:pass@127.0.0.1:PORT``."""

    def __init__(self, *, admin: str = "kzvoice", password: str = "kzvoice-test",
                 start_timeout: float = 20.0, data_dir: str | os.PathLike | None = None) -> None:
        self.admin = admin
        self.password = password
        self.start_timeout = start_timeout
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.port: int | None = None
        self._process: subprocess.Popen | None = None
        self._workdir: tempfile.TemporaryDirectory | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    @property
    def url(self) -> str:
        return f"http://{self.admin}:{self.password}@127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        self.start()
        return self.url

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> str:
        """Start the server; on disk, a second start (after ``kill``) reuses the data and the port."""
        command = pouchdb_server_command()
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            workdir, storage = str(self.data_dir), ["--dir", str(self.data_dir)]
        else:
            self._workdir = tempfile.TemporaryDirectory(prefix="kzvoice-pouchdb-")
            workdir, storage = self._workdir.name, ["--in-memory"]
        restarting = self.data_dir is not None and self.port is not None
        last_error = ""
        for _ in range(1 if restarting else 3):  # a free port may be taken between probing and binding
            if not restarting:
                self.port = _free_port()
            self._process = subprocess.Popen(
                [*command, *storage, "--host", "127.0.0.1", "--port", str(self.port),
                 "--no-stdout-logs", "--no-color"],
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**os.environ, "NODE_NO_WARNINGS": "1"},
                start_new_session=True,
            )
            try:
                self._wait_until_up()
                if not restarting:
                    self._create_admin()
                return self.url
            except PouchDBServerError as exc:
                last_error = str(exc)
                self._terminate()
        self.stop()
        raise PouchDBServerError(f"pouchdb-server did not start: {last_error}")

    def kill(self) -> None:
        """``kill -9`` of the server (its whole process group), as a crash; ``start()`` brings it back."""
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait(timeout=10)
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise PouchDBServerError(f"exited with {self._process.returncode}: {stderr[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise PouchDBServerError(f"no answer on port {self.port} within {self.start_timeout:.0f} s")

    def _create_admin(self) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/_config/admins/{self.admin}",
            data=json.dumps(self.password).encode(), method="PUT",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            if response.status != 200:
                raise PouchDBServerError(f"creating the admin answered HTTP {response.status}")

    def _terminate(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process is not None and self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def stop(self) -> None:
        self._terminate()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
