"""k8s/rabbitmq/definitions.json on the test broker, confined to a scratch vhost.

``rabbitmqctl import_definitions`` acts on the whole broker, so the tests never load the
file as it is.  They load a *scoped copy*: the vhost renamed to a scratch vhost of this
run and every user renamed with a prefix unique to the run; permission and topic
permission regexes are untouched (they name exchanges and queues, not users or vhosts).
Two ways to put the copy on the broker:

* ``apply_with_commands`` -- ``add_user``, ``set_permissions -p``, ``set_topic_permissions -p``
  derived from the file (or the management API's equivalents for a broker without a local
  ``rabbitmqctl``);
* ``import_definitions`` -- the scoped copy as a definitions file, as RabbitMQ loads it at boot.

``delete_users`` removes the run's users again; the vhost goes with ``BrokerAdmin.delete_vhost``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any, Mapping

from testkit.broker import BrokerAdmin, CtlAdmin, HttpAdmin

REPO = Path(__file__).resolve().parents[3]
DEFINITIONS = REPO / "k8s" / "rabbitmq" / "definitions.json"


def load_definitions() -> dict[str, Any]:
    return json.loads(DEFINITIONS.read_text(encoding="utf-8"))


def scoped(definitions: Mapping[str, Any], *, vhost: str, prefix: str) -> dict[str, Any]:
    """A copy of ``definitions`` on ``vhost`` with every user renamed ``prefix + name``."""
    out = copy.deepcopy(dict(definitions))
    out["vhosts"] = [{"name": vhost}]
    for user in out.get("users", []):
        user["name"] = prefix + user["name"]
    for key in ("permissions", "topic_permissions"):
        for entry in out.get(key, []):
            entry["user"] = prefix + entry["user"]
            entry["vhost"] = vhost
    return out


class UserAdmin:
    """Users and permissions on the test broker, through rabbitmqctl or the management API."""

    def __init__(self, admin: BrokerAdmin) -> None:
        self.admin = admin
        if not isinstance(admin, (CtlAdmin, HttpAdmin)):
            raise TypeError(f"cannot manage users through {admin!r}")

    # -- plumbing ------------------------------------------------------------------------

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _http(self, method: str, path: str, body: Any = None):
        assert isinstance(self.admin, HttpAdmin)
        return self.admin._call(method, path, body)

    @staticmethod
    def _q(text: str) -> str:
        return urllib.parse.quote(text, safe="")

    # -- the two ways of applying definitions --------------------------------------------

    def apply_with_commands(self, definitions: Mapping[str, Any], passwords: Mapping[str, str]) -> list[str]:
        """Create the users and set their permissions one command at a time; returns the commands run
        (passwords masked) so a test can show what it did."""
        log = []
        for user in definitions["users"]:
            self.add_user(user["name"], passwords[user["name"]])
            log.append(f"add_user {user['name']} ***")
        for p in definitions["permissions"]:
            self.set_permissions(p["vhost"], p["user"], p["configure"], p["write"], p["read"])
            log.append(f"set_permissions -p {p['vhost']} {p['user']} {p['configure']} {p['write']} {p['read']}")
        for t in definitions.get("topic_permissions", []):
            self.set_topic_permissions(t["vhost"], t["user"], t["exchange"], t["write"], t["read"])
            log.append(f"set_topic_permissions -p {t['vhost']} {t['user']} {t['exchange']} {t['write']} {t['read']}")
        return log

    def import_definitions(self, definitions: Mapping[str, Any]) -> None:
        if isinstance(self.admin, CtlAdmin):
            fd, path = tempfile.mkstemp(prefix="kzvoice-defs-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(definitions, fh)
                os.chmod(path, 0o644)       # the broker may run as another user
                self._ctl("import_definitions", path)
            finally:
                os.unlink(path)
        else:
            self._http("POST", "/api/definitions", dict(definitions))

    # -- single operations ---------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        if isinstance(self.admin, CtlAdmin):
            self._ctl("add_user", name, password)
        else:
            self._http("PUT", f"/api/users/{self._q(name)}", {"password": password, "tags": ""})

    def set_permissions(self, vhost: str, user: str, configure: str, write: str, read: str) -> None:
        if isinstance(self.admin, CtlAdmin):
            self._ctl("set_permissions", "-p", vhost, user, configure, write, read)
        else:
            self._http("PUT", f"/api/permissions/{self._q(vhost)}/{self._q(user)}",
                       {"configure": configure, "write": write, "read": read})

    def set_topic_permissions(self, vhost: str, user: str, exchange: str, write: str, read: str) -> None:
        if isinstance(self.admin, CtlAdmin):
            self._ctl("set_topic_permissions", "-p", vhost, user, exchange, write, read)
        else:
            self._http("PUT", f"/api/topic-permissions/{self._q(vhost)}/{self._q(user)}",
                       {"exchange": exchange, "write": write, "read": read})

    def delete_users(self, names) -> None:
        for name in names:
            if isinstance(self.admin, CtlAdmin):
                self._ctl("delete_user", name, check=False)
            else:
                try:
                    self._http("DELETE", f"/api/users/{self._q(name)}")
                except urllib.error.HTTPError as exc:
                    if exc.code != 404:
                        raise

    # -- what the broker holds -----------------------------------------------------------

    def permissions(self, vhost: str) -> dict[str, dict[str, str]]:
        """user -> {configure, write, read} on ``vhost``."""
        if isinstance(self.admin, CtlAdmin):
            rows = json.loads(self._ctl("list_permissions", "-p", vhost, "--formatter", "json").stdout or "[]")
        else:
            rows = self._http("GET", f"/api/vhosts/{self._q(vhost)}/permissions") or []
        return {r["user"]: {k: r[k] for k in ("configure", "write", "read")} for r in rows}

    def topic_permissions(self, vhost: str) -> dict[tuple[str, str], dict[str, str]]:
        """(user, exchange) -> {write, read} on ``vhost``."""
        if isinstance(self.admin, CtlAdmin):
            rows = json.loads(self._ctl("list_topic_permissions", "-p", vhost, "--formatter", "json").stdout or "[]")
        else:
            rows = self._http("GET", f"/api/vhosts/{self._q(vhost)}/topic-permissions") or []
        return {(r["user"], r["exchange"]): {"write": r["write"], "read": r["read"]} for r in rows}

    def connections(self, vhost: str) -> list[dict[str, str]]:
        """[{user, name}] of the client connections on ``vhost`` (name = the client's connection_name)."""
        if isinstance(self.admin, CtlAdmin):
            rows = json.loads(self._ctl("list_connections", "vhost", "user", "client_properties",
                                        "--formatter", "json").stdout or "[]")
        else:
            rows = self._http("GET", "/api/connections") or []
        out = []
        for r in rows:
            if r.get("vhost") != vhost:
                continue
            props = r.get("client_properties") or {}
            if isinstance(props, list):         # rabbitmqctl: [[key, type, value], ...]
                props = {p[0]: p[-1] for p in props if isinstance(p, list) and p}
            out.append({"user": r.get("user"), "name": props.get("connection_name", "")})
        return out
