"""A RabbitMQ cluster of the test's own on this machine, for the node-loss tests.

``RabbitCluster(size=3)`` starts ``size`` nodes from the installed RabbitMQ (Debian's
``rabbitmq-server`` package: the scripts in ``/usr/lib/rabbitmq/bin``, or whatever
``rabbitmq-server`` is on PATH), each with

* its own node name ``kzt<hex><n>@localhost`` (never ``rabbit@...``, the machine's own broker),
* free loopback ports for AMQP and for Erlang distribution,
* its data, logs, config and enabled-plugins file under one temporary directory,
* a cookie of its own (``HOME`` points into that directory), so the CLI calls made here
  can reach no other node;

joins nodes 2..n to node 1 with ``rabbitmqctl join_cluster`` and checks that every node
sees all of them running.  The machine's broker, its environment file
(``/etc/rabbitmq/rabbitmq-env.conf``) and its config are never read or touched; only the
shared epmd (port 4369) is used, as every Erlang node does.

``kill(node)`` is ``kill -9`` of the node's VM.  ``stop()`` kills every node that is left
(process group, ``SIGKILL``), waits for them, removes the directory and checks that no
process, no epmd registration and no file is left: ``leftovers()`` says what is, and
``stop()`` raises if anything is.  Use it as a context manager (or from a fixture with a
finalizer) so that this happens whether the test passed or not.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LIB_BIN = Path("/usr/lib/rabbitmq/bin")
INSTALL_HINT = "the node-loss tests need RabbitMQ installed on this machine (Debian: apt-get install rabbitmq-server)"


class ClusterError(RuntimeError):
    pass


def rabbit_script(name: str) -> str:
    """The RabbitMQ script itself: Debian's ``/usr/sbin`` wrappers switch to the rabbitmq user
    and its home, which a node of the test's own must not use."""
    candidate = LIB_BIN / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ClusterError(f"{name} not found: {INSTALL_HINT}")
    return found


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (dead, not yet reaped by its parent) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:      # a zombie is dead for our purposes (its parent is us until we wait for it)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@dataclass
class RabbitNode:
    index: int                 # 1-based
    name: str                  # kzt<hex><n>@localhost
    port: int                  # AMQP
    dist_port: int
    base: Path
    process: subprocess.Popen | None = None
    killed: bool = False

    @property
    def short(self) -> str:
        return self.name.split("@", 1)[0]

    def url(self, vhost: str = "") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    @property
    def address(self) -> str:
        """``host:port`` as the transport names its node."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class RabbitCluster:
    def __init__(self, size: int = 3, *, start_timeout: float = 120.0) -> None:
        self.size = size
        self.start_timeout = start_timeout
        self.tag = secrets.token_hex(3)
        self.root: Path | None = None
        self.nodes: list[RabbitNode] = []
        self.started_in: float | None = None
        self._seen: set[int] = set()          # every process of our nodes seen so far (helpers included)

    # -- lifecycle -------------------------------------------------------------------------------------

    def __enter__(self) -> "RabbitCluster":
        try:
            self.start()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop(check=exc_info[0] is None)

    def start(self) -> "RabbitCluster":
        began = time.monotonic()
        server = rabbit_script("rabbitmq-server")
        rabbit_script("rabbitmqctl")
        self.root = Path(tempfile.mkdtemp(prefix=f"kzvoice-rabbit-{self.tag}-"))
        home = self.root / "home"
        home.mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text("KZT" + secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        (self.root / "enabled_plugins").write_text("[].\n")       # no management plugin: no extra ports
        (self.root / "rabbitmq-env.conf").write_text("")           # not the machine's environment file
        ports = _free_ports(2 * self.size)
        for index in range(1, self.size + 1):
            base = self.root / f"node{index}"
            base.mkdir()
            node = RabbitNode(index=index, name=f"kzt{self.tag}n{index}@localhost", port=ports[2 * index - 2],
                              dist_port=ports[2 * index - 1], base=base)
            (base / "rabbitmq.conf").write_text(
                f"listeners.tcp.1 = 127.0.0.1:{node.port}\n"
                "loopback_users.guest = true\n"
                "log.console = false\n"
                "log.file.level = info\n")
            self.nodes.append(node)
        for node in self.nodes:
            node.process = subprocess.Popen([server], cwd=node.base, env=self._env(node),
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
        for node in self.nodes:
            self._await_startup(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        for node in self.nodes:
            self.ctl(node, "await_startup", "--timeout", "60", timeout=90)
        running = self.running_nodes(first)
        if sorted(running) != sorted(n.name for n in self.nodes):
            raise ClusterError(f"cluster formed with {running}, expected every node of {[n.name for n in self.nodes]}")
        self.started_in = time.monotonic() - began
        self.processes()
        return self

    def processes(self) -> list[int]:
        """Our nodes' processes and their helpers (erl_child_setup, inet_gethost), noted now and
        before: the helpers' command lines do not name the node, so once it is killed nothing
        else finds them."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        todo = [node.process.pid for node in self.nodes if node.process is not None and node.running]
        while todo:
            pid = todo.pop()
            self._seen.add(pid)
            todo.extend(children.get(pid, []))
        return sorted(self._seen)

    def _env(self, node: RabbitNode | None) -> dict[str, str]:
        assert self.root is not None
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("RABBITMQ_", "ERL_")) and key not in ("CONF_ENV_FILE", "NODENAME")}
        env.update({
            "HOME": str(self.root / "home"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        })
        if node is not None:
            env.update({
                "RABBITMQ_NODENAME": node.name,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(node.port),
                "RABBITMQ_DIST_PORT": str(node.dist_port),
                "RABBITMQ_MNESIA_BASE": str(node.base / "mnesia"),
                "RABBITMQ_MNESIA_DIR": str(node.base / "mnesia" / node.short),
                "RABBITMQ_LOG_BASE": str(node.base / "log"),
                "RABBITMQ_PID_FILE": str(node.base / "pid"),
                "RABBITMQ_CONFIG_FILE": str(node.base / "rabbitmq.conf"),
                "RABBITMQ_PLUGINS_EXPAND_DIR": str(node.base / "plugins-expand"),
                "RABBITMQ_FEATURE_FLAGS_FILE": str(node.base / "feature_flags"),
                "RABBITMQ_QUORUM_DIR": str(node.base / "quorum"),
                "RABBITMQ_STREAM_DIR": str(node.base / "stream"),
                "ERL_CRASH_DUMP": str(node.base / "erl_crash.dump"),
                # the Erlang VM replaces the start script, so the process we started is the node itself
                "RABBITMQ_ALLOW_INPUT": "true",
                "RABBITMQ_SERVER_START_ARGS": "-noinput",
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            })
        return env

    def ctl(self, node: RabbitNode, *args: str, timeout: float = 60.0, check: bool = True) -> str:
        """``rabbitmqctl -n <node> ...`` with this cluster's cookie."""
        command = [rabbit_script("rabbitmqctl"), "-q", "-n", node.name, *args]
        try:
            done = subprocess.run(command, env=self._env(None), cwd=self.root, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ClusterError(f"rabbitmqctl {' '.join(args)} on {node.name} took more than {timeout:.0f} s") from None
        if check and done.returncode != 0:
            raise ClusterError(f"rabbitmqctl {' '.join(args)} on {node.name} failed: "
                               f"{(done.stderr or done.stdout).strip()[-1500:]}")
        return done.stdout

    def _await_startup(self, node: RabbitNode) -> None:
        """Until the node answers ``await_startup`` (which fails at once while the node is not
        registered yet, so it is asked again)."""
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while time.monotonic() < deadline:
            if not node.running:
                raise ClusterError(f"{node.name} exited with {node.process.returncode if node.process else '?'} "
                                   f"while starting; see {self._log_tail(node)}")
            try:
                self.ctl(node, "await_startup", "--timeout", "30", timeout=45)
                return
            except ClusterError as exc:
                last = str(exc)
                time.sleep(1.0)
        raise ClusterError(f"{node.name} did not start within {self.start_timeout:.0f} s: {last}")

    def _log_tail(self, node: RabbitNode) -> str:
        log = node.base / "log" / f"{node.name}.log"
        try:
            return log.read_text(errors="replace")[-2000:]
        except OSError:
            return f"(no log at {log})"

    def running_nodes(self, via: RabbitNode) -> list[str]:
        import json
        status = json.loads(self.ctl(via, "cluster_status", "--formatter", "json"))
        return list(status.get("running_nodes", []))

    # -- faults ---------------------------------------------------------------------------------------

    def node_at(self, address: str) -> RabbitNode:
        """The node a transport names as ``host:port``."""
        for node in self.nodes:
            if node.address == address:
                return node
        raise KeyError(f"no node of this cluster listens at {address}")

    def kill(self, node: RabbitNode) -> None:
        """``kill -9`` of the node's Erlang VM, and wait until it is gone."""
        assert node.process is not None
        self.processes()
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=30)
        node.killed = True

    def urls(self, vhost: str = "", *, order: list[int] | None = None) -> str:
        """``KZ_AMQP_URL`` for this cluster: every node, comma-separated, in ``order`` (1-based)."""
        order = order or [node.index for node in self.nodes]
        return ",".join(self.nodes[index - 1].url(vhost) for index in order)

    # -- cleaning up ----------------------------------------------------------------------------------

    def stop(self, *, check: bool = True) -> None:
        """Kill every node that is left, remove the directory; raise if anything is left behind."""
        self.processes()
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                os.killpg(node.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for pid in self._seen:                  # helpers end with their VM; any that did not, now
            if process_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        deadline = time.monotonic() + 15
        while self._registered() and time.monotonic() < deadline:
            time.sleep(0.2)          # epmd forgets a node once its VM's socket is closed
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        left = self.leftovers()
        if check and left:
            raise ClusterError("left behind: " + "; ".join(left))

    def _pids(self) -> list[int]:
        pids = [node.process.pid for node in self.nodes if node.process is not None] + sorted(self._seen)
        # and every process whose command line names one of our nodes or our directory
        marker = f"kzt{self.tag}n"
        root = str(self.root) if self.root is not None else None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in command or (root is not None and root in command):
                pids.append(int(entry.name))
        return sorted(set(pids))

    def _registered(self) -> list[str]:
        """Our node names still registered with epmd."""
        try:
            names = subprocess.run(["epmd", "-names"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        marker = f"name kzt{self.tag}n"
        return [line.split()[1] for line in names.splitlines() if line.startswith(marker)]

    def leftovers(self) -> list[str]:
        """What of this cluster still exists: processes, epmd registrations, the directory."""
        left = [f"process {pid}" for pid in self._pids() if process_alive(pid)]
        left += [f"epmd registration of {name}" for name in self._registered()]
        if self.root is not None and self.root.exists():
            left.append(f"directory {self.root}")
        return left
