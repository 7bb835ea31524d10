"""In-process kubesim for tests: `with run_kubesim(scenario) as sim: ...`."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from kubesim.auth import MASTERS, Authenticator, User, self_signed_tls, user_named
from kubesim.faults import Fault, check_fault
from kubesim.kubeconfig import DEFAULT_TOKEN, write_kubeconfig
from kubesim.rbac import AccessControl
from kubesim.server import KubesimServer, serve, shutdown
from kubesim.world import World


class Sim:
    """Handle on a running kubesim: its URL, a kubeconfig file, and the simulation controls."""

    def __init__(
        self, server: KubesimServer, kubeconfig: Path, tls_server: KubesimServer | None = None
    ) -> None:
        self._server = server
        self.world: World = server.world
        self.url: str = server.url
        # with tokens: the HTTPS listener's URL (same world), for kubectl, which sends tokens only over TLS
        self.tls_url: str | None = tls_server.url if tls_server is not None else None
        # for kubectl and the clients: over HTTPS with the superuser token when kubesim runs with tokens
        self.kubeconfig: str = str(kubeconfig)

    def write_kubeconfig(self, path: str | Path, token: str, *, tls: bool = False) -> str:
        """A kubeconfig that authenticates with `token` (see run_kubesim's `tokens`); `tls`: over HTTPS."""
        if tls and self.tls_url is None:
            raise ValueError("kubesim runs without tokens: there is no HTTPS listener")
        return str(write_kubeconfig(path, self.tls_url if tls and self.tls_url else self.url, token=token))

    def access_log(self) -> list[dict[str, Any]]:
        """Every authorization decision (user, verb, group, resource, namespace, name, allowed) when
        kubesim runs with tokens; [] otherwise."""
        access = self._server.access
        return access.log.entries() if access is not None else []

    def clear_access_log(self) -> None:
        if self._server.access is not None:
            self._server.access.log.clear()

    def advance(self, seconds: float) -> None:
        """Advance the simulated clock; controllers, kubelet and traffic catch up before returning."""
        self.world.advance(seconds)

    def now(self) -> float:
        return self.world.clock.now()

    def audit(self) -> list[dict[str, Any]]:
        return self.world.audit.entries()

    def clear_audit(self) -> None:
        self.world.audit.clear()

    def inject_fault(
        self,
        method: str = "*",
        path: str = "*",
        status: int | None = None,
        delay: float | None = None,
        drop_watch: bool = False,
        count: int = 1,
        *,
        reset: bool = False,
        after: bool = False,
        retry_after: str | int | None = None,
    ) -> None:
        """The next `count` matching requests fail/stall/reset/drop (see kubesim.faults)."""
        fault = Fault(
            method,
            path,
            status,
            delay,
            drop_watch,
            count,
            reset=reset,
            after=after,
            retry_after=None if retry_after is None else str(retry_after),
        )
        check_fault(fault)
        self.world.faults.add(fault)

    def clear_faults(self) -> None:
        self.world.faults.clear()

    def set_scenario(self, scenario: dict[str, Any] | str) -> None:
        self.world.set_scenario(scenario)

    def compact(self) -> None:
        """Drop the watch history: watching from an older resourceVersion now gets 410 Expired."""
        self.world.store.compact()

    def metrics_text(self) -> str:
        from kubesim.metrics import render

        self.world.traffic_checkpoint()
        return render(self.world.traffic)

    def api_client(self, token: str = DEFAULT_TOKEN) -> Any:
        """A `kubernetes.client.ApiClient` configured for this server (the superuser token by default)."""
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.url
        cfg.verify_ssl = False
        cfg.api_key = {"BearerToken": token}
        cfg.api_key_prefix = {"BearerToken": "Bearer"}
        return client.ApiClient(cfg)


def access_control(world: World, tokens: Mapping[str, User | str], *, rbac: bool = True) -> AccessControl:
    """Authentication by `tokens` (token -> user name or User) plus RBAC; the token "kubesim" is the
    superuser (group system:masters) unless `tokens` uses it."""
    known: dict[str, User | str] = {DEFAULT_TOKEN: user_named("kubesim-admin", [MASTERS])}
    known.update(tokens)
    return AccessControl(Authenticator(known), world.store, world.clock, rbac=rbac)


@contextmanager
def run_kubesim(
    scenario: dict[str, Any] | str | None = None,
    seed: int = 0,
    *,
    tokens: Mapping[str, User | str] | None = None,
    rbac: bool = True,
) -> Generator[Sim, None, None]:
    """Start kubesim in this process (HTTP server thread on a free 127.0.0.1 port).

    `tokens` (token -> user name or User) turns authentication on, and with it RBAC unless `rbac` is
    False: see kubesim/rbac.py. Without them every request is served, as before.
    """
    if isinstance(scenario, str) and Path(scenario).is_file():
        scenario = Path(scenario).read_text(encoding="utf-8")
    world = World(scenario, seed=seed)
    access = access_control(world, tokens, rbac=rbac) if tokens is not None else None
    server, thread = serve(world, "127.0.0.1", 0, access)
    tls_server, tls_thread = (
        serve(world, "127.0.0.1", 0, access, self_signed_tls(), start_world=False) if access else (None, None)
    )
    with tempfile.TemporaryDirectory(prefix="kubesim-") as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", tls_server.url if tls_server else server.url)
        try:
            yield Sim(server, kubeconfig, tls_server)
        finally:
            if tls_server is not None and tls_thread is not None:
                shutdown(tls_server, tls_thread)
            shutdown(server, thread)


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)


__all__ = ["Sim", "run_kubesim", "yaml"]
