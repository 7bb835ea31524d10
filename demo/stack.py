"""The demo's moving parts as child processes: kubesim, Prometheus, Alertmanager, airflow standalone.

Each child runs in its own session (process group), so stopping the stack kills exactly the
processes it started - airflow standalone's scheduler, triggerer, dag-processor and api-server
included - and nothing else on the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import requests

from demo.airflow_api import AirflowAPI
from demo.slack_standin import SlackStandIn

REPO = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = Path(__file__).resolve().parent / "scenario.yaml"
APT_PACKAGES = {"prometheus": "prometheus", "prometheus-alertmanager": "prometheus-alertmanager"}


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_binary(name: str, say: Callable[[str], None]) -> str:
    """Find a Debian-packaged tool; install it with apt when we can (root + apt-get), else explain."""
    found = shutil.which(name)
    if found:
        return found
    package = APT_PACKAGES[name]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"{name} is not installed: installing the Debian package {package} with apt-get ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False, env=env)
        found = shutil.which(name)
        if found:
            return found
    raise StackError(
        f"{name} is required for the demo but is not installed.\n"
        f"  Debian/Ubuntu: sudo apt-get install -y {package}\n"
        f"  elsewhere: install {name} and put it on PATH, then run `make demo` again."
    )


class Stack:
    """Start everything the demo needs under `workdir`; `stop()` (or the context manager) ends it."""

    def __init__(
        self,
        workdir: Path,
        scenario: Path = DEMO_SCENARIO,
        airflow_port: int | None = None,
        say: Callable[[str], None] = print,
        on_slack: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.workdir = workdir
        self.scenario = scenario
        self.say = say
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self.slack = SlackStandIn(on_message=on_slack)
        self.airflow_port = airflow_port or (8080 if _port_free(8080) else free_port())
        self.kubesim_url = ""
        self.kubeconfig = workdir / "kubeconfig.yaml"
        self.prometheus_url = ""
        self.alertmanager_url = ""
        self.airflow_home = workdir / "airflow"
        self.api: AirflowAPI | None = None
        self.password = secrets.token_urlsafe(12)

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        prometheus = ensure_binary("prometheus", self.say)
        alertmanager = ensure_binary("prometheus-alertmanager", self.say)
        self.slack.__enter__()
        self._start_kubesim()
        self._start_prometheus(prometheus)
        self._start_alertmanager(alertmanager)
        self._start_airflow()

    def stop(self) -> None:
        # A terminal's ^C reaches make, uv and python at once: a second SIGINT must not cut the
        # cleanup short and orphan the remaining process groups.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for name, proc in reversed(list(self.procs.items())):
                _stop_group(proc)
                self.say(f"stopped {name} (pid {proc.pid})")
            self.procs.clear()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        try:
            self.slack.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - never started
            pass

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    # -- components ------------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env or os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killed as a unit, untouched by the terminal's ^C
        )
        self.procs[name] = proc
        return proc

    def _wait_for(self, name: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise StackError(
                    f"{name} exited with {proc.returncode}; see {self.workdir / (name + '.log')}"
                )
            try:
                if check():
                    return
            except (requests.RequestException, OSError, ValueError):
                pass
            time.sleep(0.3)
        raise StackError(
            f"{name} did not become ready in {timeout:.0f}s; see {self.workdir / (name + '.log')}"
        )

    def _start_kubesim(self) -> None:
        self._spawn(
            "kubesim",
            [
                sys.executable,
                "-m",
                "kubesim",
                "--port",
                "0",
                "--scenario",
                str(self.scenario),
                "--kubeconfig-out",
                str(self.kubeconfig),
            ],
        )
        log_path = self.workdir / "kubesim.log"

        def ready() -> bool:
            for line in log_path.read_text(errors="replace").splitlines():
                if line.startswith("kubesim ready on "):
                    self.kubesim_url = line.split()[-1]
                    return True
            return False

        self._wait_for("kubesim", ready, 20)
        self.say(f"kubesim (Kubernetes API + simulated traffic) on {self.kubesim_url}")

    def _start_prometheus(self, binary: str) -> None:
        port = free_port()
        target = self.kubesim_url.removeprefix("http://")
        config = self.workdir / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 2s, evaluation_interval: 2s}\n"
            "scrape_configs:\n"
            f"  - job_name: kubesim\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        data = self.workdir / "prometheus-data"
        shutil.rmtree(data, ignore_errors=True)
        self._spawn(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
        )
        self.prometheus_url = f"http://127.0.0.1:{port}"
        self._wait_for("prometheus", lambda: requests.get(f"{self.prometheus_url}/-/ready", timeout=2).ok, 30)
        self.say(f"Prometheus scraping kubesim every 2s on {self.prometheus_url}")

    def _start_alertmanager(self, binary: str) -> None:
        port = free_port()
        config = self.workdir / "alertmanager.yml"
        config.write_text("route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n")
        data = self.workdir / "alertmanager-data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        self._spawn(
            "alertmanager",
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
        )
        self.alertmanager_url = f"http://127.0.0.1:{port}"
        self._wait_for(
            "alertmanager", lambda: requests.get(f"{self.alertmanager_url}/-/ready", timeout=2).ok, 30
        )
        self.say(f"Alertmanager (incident gate) on {self.alertmanager_url}")

    def airflow_env(self) -> dict[str, str]:
        """Airflow's configuration and every connection, by environment (nothing stored in the DB)."""
        bin_dir = str(Path(sys.executable).parent)
        kube = {"conn_type": "kubernetes", "extra": {"kube_config_path": str(self.kubeconfig)}}
        slack = {"conn_type": "slackwebhook", "host": self.slack.url, "password": "/services/DEMO/DEMO/DEMO"}
        return {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",  # standalone starts `airflow` by name
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__API__PORT": str(self.airflow_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.airflow_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.airflow_port}/execution/",
            # a real scheduler races stale executor events (see triggers/stale_event_guard.py)
            "AIRLOCK_TRIGGER_MIN_DEFERRAL_SECONDS": "12",
            # LocalExecutor forks `parallelism` workers up front; 32 idle workers on a laptop is waste
            "AIRFLOW__CORE__PARALLELISM": "6",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(kube),
            "AIRFLOW_CONN_PROMETHEUS_DEFAULT": json.dumps(_http_conn(self.prometheus_url)),
            "AIRFLOW_CONN_ALERTMANAGER_DEFAULT": json.dumps(_http_conn(self.alertmanager_url)),
            "AIRFLOW_CONN_AIRLOCK_APP_HTTP": json.dumps(_http_conn(self.kubesim_url)),
            "AIRFLOW_CONN_SLACK_DEPLOYMENTS": json.dumps(slack),
            # the record task writes the DAG run note through the public REST API with this login
            "AIRFLOW_CONN_AIRLOCK_API": json.dumps(
                {
                    "conn_type": "http",
                    "host": f"http://127.0.0.1:{self.airflow_port}",
                    "login": "admin",
                    "password": self.password,
                }
            ),
        }

    def _start_airflow(self) -> None:
        env = self.airflow_env()
        airflow = str(Path(sys.executable).parent / "airflow")
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        # Pre-seed the simple auth manager's password file: standalone keeps an existing one, so the
        # demo knows the login (for the REST API and the run-note connection) before Airflow starts.
        (self.airflow_home / "simple_auth_manager_passwords.json.generated").write_text(
            json.dumps({"admin": self.password})
        )
        self.say("Preparing Airflow (metadata DB migration and DAG serialization; ~30 s the first time) ...")
        for args in (["db", "migrate"], ["dags", "reserialize"]):
            result = subprocess.run([airflow, *args], env=env, cwd=REPO, capture_output=True, text=True)
            if result.returncode != 0:
                raise StackError(
                    f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
                )
        self._spawn("airflow", [airflow, "standalone"], env=env)
        url = f"http://127.0.0.1:{self.airflow_port}"
        self._wait_for("airflow", lambda: requests.get(f"{url}/api/v2/monitor/health", timeout=3).ok, 180)
        self.api = AirflowAPI(url, "admin", self.password)
        self._wait_for("airflow", self._components_healthy, 120)
        self.say(f"Airflow standalone on {url} (login admin / {self.password})")

    def _components_healthy(self) -> bool:
        assert self.api is not None
        health = self.api.health()
        return all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("scheduler", "triggerer", "dag_processor")
        )


def _http_conn(url: str) -> dict[str, Any]:
    scheme, rest = url.split("://", 1)
    host, port = rest.rsplit(":", 1)
    return {"conn_type": "http", "host": host, "port": int(port), "schema": scheme}


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stop_group(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left after `grace` seconds."""
    if proc.poll() is not None and not _group_alive(proc.pid):
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _group_alive(proc.pid):
        proc.poll()
        time.sleep(0.2)
    if _group_alive(proc.pid):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
