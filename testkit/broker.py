"""Administering the test broker: vhosts, and (for fault tests) stopping and starting it.

The tests (``tests/conftest.py``) and the benchmarks (``bench/common.py``) each run in a
vhost of their own: ``admin_for(url).add_vhost(name)``, then ``vhost_url(url, name)``.

Two ways, chosen by what is available: RabbitMQ's management HTTP API (the
``rabbitmq:3-management`` container, or any broker with the plugin enabled),
or ``rabbitmqctl`` for a broker on this machine.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter


class BrokerAdmin:
    kind = "?"

    def add_vhost(self, vhost: str) -> None:
        raise NotImplementedError

    def delete_vhost(self, vhost: str) -> None:
        raise NotImplementedError

    def list_queues(self, vhost: str) -> list[dict]:
        raise NotImplementedError

    def list_exchanges(self, vhost: str) -> list[dict]:
        raise NotImplementedError

    def list_bindings(self, vhost: str) -> set[tuple[str, str, str]]:
        """Every queue binding of the vhost as (exchange, routing key, queue); the default
        exchange's implicit bindings are left out."""
        raise NotImplementedError

    def list_consumed_queues(self, vhost: str) -> set[str]:
        """The queues of the vhost that have at least one consumer."""
        return set(self.count_consumers(vhost))

    def count_consumers(self, vhost: str) -> Counter[str]:
        """How many consumers each queue of the vhost has (queues without any left out)."""
        raise NotImplementedError

    def close_connections(self, vhost: str, connection_name: str) -> int:
        """Make the broker close the connections of ``vhost`` a client named ``connection_name``
        (as a node going away would); returns how many there were."""
        raise NotImplementedError


class HttpAdmin(BrokerAdmin):
    kind = "the management API"

    def __init__(self, api: str, user: str, password: str) -> None:
        self.api = api.rstrip("/")
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.user = user

    def _call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.api + path, data=data, method=method,
                                     headers={"Authorization": self._auth, "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=15) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def add_vhost(self, vhost: str) -> None:
        v = urllib.parse.quote(vhost, safe="")
        self._call("PUT", f"/api/vhosts/{v}", {})
        self._call("PUT", f"/api/permissions/{v}/{urllib.parse.quote(self.user, safe='')}",
                   {"configure": ".*", "write": ".*", "read": ".*"})

    def delete_vhost(self, vhost: str) -> None:
        try:
            self._call("DELETE", f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise

    def list_exchanges(self, vhost: str) -> list[dict]:
        return self._call("GET", f"/api/exchanges/{urllib.parse.quote(vhost, safe='')}") or []

    def list_queues(self, vhost: str) -> list[dict]:
        return self._call("GET", f"/api/queues/{urllib.parse.quote(vhost, safe='')}") or []

    def list_bindings(self, vhost: str) -> set[tuple[str, str, str]]:
        rows = self._call("GET", f"/api/bindings/{urllib.parse.quote(vhost, safe='')}") or []
        return {(r["source"], r["routing_key"], r["destination"]) for r in rows
                if r["source"] and r["destination_type"] == "queue"}

    def count_consumers(self, vhost: str) -> Counter[str]:
        rows = self._call("GET", f"/api/consumers/{urllib.parse.quote(vhost, safe='')}") or []
        return Counter(r["queue"]["name"] for r in rows)

    def close_connections(self, vhost: str, connection_name: str) -> int:
        listed = self._call("GET", f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}/connections") or []
        found = [c["name"] for c in listed
                 if (c.get("client_properties") or {}).get("connection_name") == connection_name]
        for name in found:
            self._call("DELETE", f"/api/connections/{urllib.parse.quote(name, safe='')}")
        return len(found)


class CtlAdmin(BrokerAdmin):
    kind = "rabbitmqctl"

    def __init__(self, user: str) -> None:
        self.user = user

    def _ctl(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def add_vhost(self, vhost: str) -> None:
        self._ctl("add_vhost", vhost)
        self._ctl("set_permissions", "-p", vhost, self.user, ".*", ".*", ".*")

    def delete_vhost(self, vhost: str) -> None:
        self._ctl("delete_vhost", vhost, check=False)

    def list_exchanges(self, vhost: str) -> list[dict]:
        out = self._ctl("list_exchanges", "-p", vhost, "--formatter", "json", "name", "type", "durable",
                        "auto_delete", "internal", "arguments")
        return json.loads(out or "[]")

    def list_queues(self, vhost: str) -> list[dict]:
        out = self._ctl("list_queues", "-p", vhost, "--formatter", "json", "name", "arguments", "auto_delete",
                        "durable", "exclusive", "messages")
        return json.loads(out or "[]")

    def list_bindings(self, vhost: str) -> set[tuple[str, str, str]]:
        out = self._ctl("list_bindings", "-p", vhost, "--formatter", "json", "source_name", "destination_name",
                        "destination_kind", "routing_key")
        return {(r["source_name"], r["routing_key"], r["destination_name"]) for r in json.loads(out or "[]")
                if r["source_name"] and r["destination_kind"] == "queue"}

    def count_consumers(self, vhost: str) -> Counter[str]:
        out = self._ctl("list_consumers", "-p", vhost, "--formatter", "json", "queue_name")
        return Counter(r["queue_name"] for r in json.loads(out or "[]"))

    def close_connections(self, vhost: str, connection_name: str) -> int:
        marker = '{"connection_name",' + json.dumps(connection_name) + "}"
        listed = self._ctl("list_connections", "pid", "vhost", "client_properties").splitlines()
        found = [line.split("\t")[0] for line in listed if line.split("\t")[1:2] == [vhost] and marker in line]
        for pid in found:
            self._ctl("close_connection", pid, "closed by a kzvoice test")
        return len(found)

    def stop_app(self) -> None:
        self._ctl("stop_app")

    def start_app(self) -> None:
        self._ctl("start_app")
        self._ctl("await_startup")


def admin_for(amqp_url: str, *, container=None) -> BrokerAdmin:
    parts = urllib.parse.urlsplit(amqp_url)
    user = urllib.parse.unquote(parts.username or "guest")
    password = urllib.parse.unquote(parts.password or "guest")
    if container is not None:
        api = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(15672)}"
        return HttpAdmin(api, user, password)
    host = parts.hostname or "127.0.0.1"
    api = f"http://{host}:15672"
    try:
        urllib.request.urlopen(api + "/api/overview", timeout=2)
    except urllib.error.HTTPError:
        return HttpAdmin(api, user, password)   # answered (401 without auth): the API is there
    except OSError:
        pass
    if host in ("127.0.0.1", "localhost", "::1") and shutil.which("rabbitmqctl"):
        return CtlAdmin(user)
    raise RuntimeError(f"cannot manage vhosts on {host}: no management API on :15672 and no local rabbitmqctl")


def vhost_url(url: str, vhost: str) -> str:
    """``url`` (an amqp:// or amqps:// URL) pointing at ``vhost`` instead of its own."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + urllib.parse.quote(vhost, safe=""),
                                    parts.query, ""))
