"""Real processes for the fault matrix: the Airflow stack, the task processes it forks, and outages.

* `FaultStack` is demo/stack.py's Stack (kubesim + Prometheus + Alertmanager + airflow standalone,
  every process stopped at the end) with the matrix's DAGs folder and connections.
* A task's process is found by the title Airflow's task runner gives it (`airflow worker -- <ti id>`)
  and killed with SIGKILL, as the OOM killer or a node loss would.
* The triggerer and the scheduler are killed where standalone started them and started again as
  separate processes (standalone does not restart a component that died).
* `Outage` is a reverse proxy in front of a real server (Prometheus) that can be switched down: a
  scenario's connection points at its own proxy, so its outage hits no other scenario.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import requests

from demo.scaleout_stack import ScaleOutStack
from demo.stack import Stack, free_port


class FaultStack(Stack):
    """Stack with another DAGs folder and extra Airflow environment (connections, parallelism)."""

    def __init__(self, workdir: Path, dags_folder: Path, extra_env: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(workdir, airflow_port=free_port(), **kwargs)
        self.dags_folder = dags_folder
        self.extra_env = dict(extra_env)
        self._restarts = 0
        # log servers on ports of their own: another Airflow on this machine holds the defaults 8793/8794
        self.log_ports = {"worker": free_port(), "trigger": free_port()}
        self.db_password = secrets.token_urlsafe(16)
        self.pg_port = 0
        self.pg_dir = workdir / "postgres"
        self._restart_lock = threading.Lock()

    def _wait_for(self, name: str, check: Callable[[], bool], timeout: float) -> None:
        # a 2-core CI machine running twenty deployments (and whatever else) starts Airflow slowly
        super()._wait_for(name, check, timeout * 4)

    def _start_airflow(self) -> None:
        self._start_postgres()
        super()._start_airflow()

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(
            self.pg_dir, ignore_errors=True
        )  # (under /tmp when the postgres user cannot reach workdir)

    # PostgreSQL exactly as the scale-out stack runs it (as the postgres user when root, TCP on
    # loopback, a throwaway data directory): one implementation, borrowed
    _as_pg_user = ScaleOutStack._as_pg_user
    _pg_can_use = ScaleOutStack._pg_can_use
    _start_postgres = ScaleOutStack._start_postgres

    def airflow_env(self) -> dict[str, str]:
        env = super().airflow_env()
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(self.dags_folder)
        # its own metadata DB, PostgreSQL: SQLite answers "database is locked" to a scheduler with
        # twenty runs at once (and the test session's AIRFLOW_HOME, tests/conftest.py, is another one)
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
            f"postgresql+psycopg2://airflow:{self.db_password}@127.0.0.1:{self.pg_port}/airflow"
        )
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(self.log_ports["worker"])
        env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(self.log_ports["trigger"])
        env.update(self.extra_env)
        return env

    def component_processes(self, component: str) -> list[psutil.Process]:
        """Live `airflow <component>` processes of this stack (standalone's, or restarted ones)."""
        found: list[psutil.Process] = []
        for proc in list(self.procs.values()):
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        args = p.cmdline()
                        if (
                            any(a.endswith("/airflow") or a == "airflow" for a in args[:3])
                            and component in args[1:4]
                            and p.status() != psutil.STATUS_ZOMBIE
                        ):
                            found.append(p)
        return found

    def restart_component(self, component: str, sig: int = signal.SIGKILL) -> str:
        """Stop this stack's `airflow <component>` with `sig` and start a fresh one; returns what was done."""
        with self._restart_lock:
            victims = self.component_processes(component)
            if not victims:
                raise RuntimeError(f"no running airflow {component} process found")
            # the component's own children (a scheduler's LocalExecutor workers, the triggerer's
            # trigger runner) go with it: a SIGKILL takes the whole tree, as a lost machine would; a
            # SIGTERM goes to the component, which stops its children itself
            tree = {p.pid: p for v in victims for p in [v, *_children(v)]}
            for p in tree.values() if sig == signal.SIGKILL else victims:
                with contextlib.suppress(psutil.Error):
                    p.send_signal(sig)
            gone, alive = psutil.wait_procs(list(tree.values()), timeout=60)
            for p in alive:  # a graceful stop that overran: as a supervisor would, kill
                with contextlib.suppress(psutil.Error):
                    p.kill()
            self._restarts += 1
            airflow = str(Path(sys.executable).parent / "airflow")
            self.spawn(f"{component}-{self._restarts}", [airflow, component], env=self.airflow_env())
            return f"{signal.Signals(sig).name} to airflow {component} (pid {', '.join(str(v.pid) for v in victims)}), started again"


def _children(p: psutil.Process) -> list[psutil.Process]:
    try:
        return list(p.children(recursive=True))
    except psutil.Error:
        return []


def task_process(ti_id: str) -> psutil.Process | None:
    """The process running task instance `ti_id` (Airflow's task runner titles it `airflow worker -- <id>`)."""
    needle = f"airflow worker -- {ti_id}"
    for p in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if needle in " ".join(p.info["cmdline"] or ()) and p.status() != psutil.STATUS_ZOMBIE:
                return p
    return None


def kill_task(ti_id: str, timeout: float, ready: Callable[[], bool] = lambda: True) -> str:
    """SIGKILL the task's process once it exists and `ready()` says so; returns what was done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = task_process(ti_id)
        if proc is not None and ready():
            pid = proc.pid
            os.kill(pid, signal.SIGKILL)
            return f"SIGKILL to task process {pid}"
        time.sleep(0.1)
    raise TimeoutError(f"no process for task instance {ti_id} within {timeout:.0f}s")


class Outage:
    """A reverse proxy to `upstream` (set before use) that answers 503 while `down` is set."""

    def __init__(self) -> None:
        self.upstream = ""
        self.down = threading.Event()
        self.requests_while_down = 0
        self.requests = 0
        outage = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                outage.requests += 1
                if outage.down.is_set():
                    outage.requests_while_down += 1
                    self._answer(503, b"upstream down (fault matrix)", "text/plain")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                try:
                    r = requests.request(
                        self.command, outage.upstream + self.path, data=body, headers=headers, timeout=30
                    )
                except requests.RequestException as exc:
                    self._answer(502, str(exc).encode(), "text/plain")
                    return
                self._answer(r.status_code, r.content, r.headers.get("Content-Type", "application/json"))

            def _answer(self, code: int, data: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _proxy  # noqa: N815 - http.server API

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: every connection is refused."""
    return f"http://127.0.0.1:{free_port()}"
