"""In-process kubesim for tests: `with run_kubesim(scenario) as sim: ...`."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from kubesim.faults import Fault, check_fault
from kubesim.kubeconfig import write_kubeconfig
from kubesim.server import KubesimServer, serve, shutdown
from kubesim.world import World


class Sim:
    """Handle on a running kubesim: its URL, a kubeconfig file, and the simulation controls."""

    def __init__(self, server: KubesimServer, kubeconfig: Path) -> None:
        self._server = server
        self.world: World = server.world
        self.url: str = server.url
        self.kubeconfig: str = str(kubeconfig)

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

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` configured for this server."""
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.url
        cfg.verify_ssl = False
        return client.ApiClient(cfg)


@contextmanager
def run_kubesim(scenario: dict[str, Any] | str | None = None, seed: int = 0) -> Generator[Sim, None, None]:
    """Start kubesim in this process (HTTP server thread on a free 127.0.0.1 port)."""
    if isinstance(scenario, str) and Path(scenario).is_file():
        scenario = Path(scenario).read_text(encoding="utf-8")
    world = World(scenario, seed=seed)
    server, thread = serve(world, "127.0.0.1", 0)
    with tempfile.TemporaryDirectory(prefix="kubesim-") as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", server.url)
        try:
            yield Sim(server, kubeconfig)
        finally:
            shutdown(server, thread)


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)


__all__ = ["Sim", "run_kubesim", "yaml"]
