"""The demo's moving parts as child processes: kubesim, Prometheus, Alertmanager, airflow standalone.

Each child runs in its own session (process group), so stopping the stack kills exactly the
processes it started - airflow standalone's scheduler, triggerer, dag-processor and api-server
included - and nothing else on the machine. Processes that leave the group (Airflow's task
supervisor puts each task in a group of its own) are found as descendants and stopped too.

Stopping must survive how people stop things: Ctrl-C (SIGINT), `kill` (SIGTERM), a closed terminal
(SIGHUP), a second Ctrl-C while the first cleanup runs, and a stdout whose reader died with the
terminal's Ctrl-C (`make demo | tee demo.log`). `run_with_stack` is that path for every entry point
(the demo, the benchmarks): signals become an exception that unwinds into `Stack.stop()`, and `say`
never lets a dead stdout cut the cleanup short.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any, TextIO

import psutil
import requests

from demo.airflow_api import AirflowAPI
from demo.slack_standin import SlackStandIn

REPO = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = Path(__file__).resolve().parent / "scenario.yaml"
APT_PACKAGES = {
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    # `make scaleout` (demo/scaleout_stack.py): the CeleryExecutor's metadata DB and broker
    "postgres": "postgresql",
    "redis-server": "redis-server",
}
# in start order; each needs the ones before it (Prometheus scrapes kubesim, Airflow uses them all)
COMPONENTS = ("kubesim", "prometheus", "alertmanager", "airflow")
# Prometheus scrapes kubesim this often, and waits at most this long (its timeout cannot exceed the interval)
SCRAPE_INTERVAL = "2s"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StackError(RuntimeError):
    pass


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM or SIGHUP), raised in the main thread to unwind into Stack.stop().

    A KeyboardInterrupt so that no `except Exception` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Cleanup:
    """Whether a Stack.stop() is running (a stop signal then hurries it instead of interrupting it)."""

    active = 0
    hurry = False


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    if _Cleanup.active:
        # the impatient second Ctrl-C: kill what is left now instead of waiting for the grace period;
        # raising here would abandon the remaining process groups
        _Cleanup.hurry = True
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def interrupt_on_stop_signals() -> Generator[None, None, None]:
    """SIGINT, SIGTERM and SIGHUP raise Interrupted in the main thread while inside the block.

    By default SIGTERM and SIGHUP end Python at once, with no `finally` and no `__exit__`: the
    children, in sessions of their own, would outlive it. A signal already ignored stays ignored:
    `nohup make demo` asked to survive SIGHUP, a shell's background job ignores SIGINT."""
    previous = {
        sig: signal.signal(sig, _on_stop_signal)
        for sig in STOP_SIGNALS
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_dead_streams: set[int] = set()


def say(text: str) -> None:
    """Print a progress line to stdout; if stdout is gone, to stderr; if both are gone, nowhere.

    `make demo | tee demo.log` + Ctrl-C: tee dies with the demo, and the cleanup's "stopped ..."
    lines would raise BrokenPipeError half-way through the cleanup (SIGHUP: EIO on the dead tty)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None or id(stream) in _dead_streams:
            continue
        try:
            stream.write(text + "\n")
            stream.flush()
            return
        except (OSError, ValueError):  # BrokenPipeError, EIO, a closed file
            _bury(stream)


def _bury(stream: TextIO) -> None:
    """Never write to `stream` again, and point its fd at /dev/null: the interpreter flushes stdout
    at exit, and a failing flush there prints a traceback and turns the exit status into 120."""
    _dead_streams.add(id(stream))
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def exit_code_on_stop_signal(main: Callable[[], int], say: Callable[[str], None] = say) -> int:
    """Run `main()` with SIGINT, SIGTERM and SIGHUP turned into Interrupted; a stop signal returns
    128 + its number. For any script that starts processes: the exception runs its `finally` and
    `__exit__` (subprocess.run kills its child on it), where the default SIGTERM/SIGHUP would not."""
    with interrupt_on_stop_signals():
        try:
            return main()
        except Interrupted as exc:
            say(f"\nInterrupted ({signal.Signals(exc.signum).name}): every process started has been stopped.")
            return 128 + exc.signum


def run_with_stack(stack: Stack, body: Callable[[Stack], int], say: Callable[[str], None] = say) -> int:
    """Start `stack`, return `body(stack)`; whatever happens - an error, Ctrl-C, SIGTERM, SIGHUP - every
    process the stack started is stopped before this returns. A stop signal returns 128 + its number,
    a stack that cannot start returns 2."""

    def run() -> int:
        try:
            with stack:
                return body(stack)
        except StackError as exc:
            say(f"\nThe stack could not start: {exc}")
            return 2

    return exit_code_on_stop_signal(run, say)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_binary(
    name: str, say: Callable[[str], None], locate: Callable[[str], str | None] = shutil.which
) -> str:
    """Find a Debian-packaged tool (`locate`: on PATH by default); install it with apt when we can
    (root + apt-get), else explain."""
    found = locate(name)
    if found:
        return found
    package = APT_PACKAGES[name]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"{name} is not installed: installing the Debian package {package} with apt-get ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False, env=env)
        found = locate(name)
        if found:
            return found
    raise StackError(
        f"{name} is required but is not installed.\n"
        f"  Debian/Ubuntu: sudo apt-get install -y {package}\n"
        f"  elsewhere: install {name} and put it on PATH, then run the same command again."
    )


class Stack:
    """Start everything the demo needs under `workdir`; `stop()` (or the context manager) ends it."""

    def __init__(
        self,
        workdir: Path,
        scenario: Path = DEMO_SCENARIO,
        airflow_port: int | None = None,
        say: Callable[[str], None] = say,
        on_slack: Callable[[dict[str, Any]], None] | None = None,
        components: Sequence[str] = COMPONENTS,
        stop_grace: float = 15.0,
    ) -> None:
        if tuple(components) != COMPONENTS[: len(components)]:
            raise ValueError(f"components: a prefix of {COMPONENTS} (each needs the ones before it)")
        self.workdir = workdir
        self.scenario = scenario
        self.say = say
        self.components = tuple(components)
        self.stop_grace = stop_grace  # SIGTERM -> SIGKILL, per child
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self.slack = SlackStandIn(on_message=on_slack)
        self._slack_started = False
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
        # a last resort when an exception escapes stop() itself: stop() is idempotent
        atexit.register(self.stop)
        binaries = {
            name: ensure_binary(binary, self.say)
            for name, binary in (("prometheus", "prometheus"), ("alertmanager", "prometheus-alertmanager"))
            if name in self.components
        }
        self.slack.__enter__()
        self._slack_started = True
        if "kubesim" in self.components:
            self._start_kubesim()
        if "prometheus" in self.components:
            self._start_prometheus(binaries["prometheus"])
        if "alertmanager" in self.components:
            self._start_alertmanager(binaries["alertmanager"])
        if "airflow" in self.components:
            self._start_airflow()

    def stop(self) -> None:
        """Stop every child (last started first) and everything it started; safe to call again.

        A stop signal during the cleanup (a terminal's ^C reaches make and python at once; an
        impatient user presses it again) must not cut it short and orphan the remaining groups: it
        only skips the grace period. Progress lines go through `say`, which must not raise."""
        _Cleanup.active += 1
        main = threading.current_thread() is threading.main_thread()
        previous = {
            sig: signal.signal(sig, _on_stop_signal)
            for sig in STOP_SIGNALS
            if main and signal.getsignal(sig) is not signal.SIG_IGN  # (as in interrupt_on_stop_signals)
        }
        try:
            if self.procs and main:
                self._say(
                    f"Stopping {', '.join(reversed(self.procs))} (press Ctrl-C again to kill at once) ..."
                )
            while self.procs:
                name = next(reversed(self.procs))
                proc = self.procs[name]
                stop_process_tree(proc, self.stop_grace, hurry=lambda: _Cleanup.hurry)
                del self.procs[name]  # only once it is gone: a stop() cut short resumes here
                self._say(f"stopped {name} (pid {proc.pid})")
            for handle in self._logs:
                handle.close()
            self._logs.clear()
            if self._slack_started:  # shutdown() of a server that never served waits forever
                self._slack_started = False
                self.slack.__exit__(None, None, None)
            atexit.unregister(self.stop)
        finally:
            _Cleanup.active -= 1
            if not _Cleanup.active:
                _Cleanup.hurry = False
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _say(self, text: str) -> None:
        try:
            self.say(text)
        except Exception:  # noqa: BLE001 - a caller's `say` on a closed stdout must not stop the cleanup
            pass

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def kill(self, name: str) -> int:
        """SIGKILL child `name` and its whole tree at once - a crash, no chance to clean up - and forget
        it (stop() will not wait for it). Returns its pid."""
        proc = self.procs.pop(name)
        stop_process_tree(proc, grace=0, signum=signal.SIGKILL)
        self._say(f"killed {name} (pid {proc.pid}) with SIGKILL")
        return proc.pid

    # -- components ------------------------------------------------------------------------------
    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a child in its own session, output to <workdir>/<name>.log; stop() ends it and its tree."""
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

    def _run(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        """A one-shot command, as a child like the others: a signal while it runs stops it too."""
        proc = self.spawn(name, cmd, env=env)
        returncode = proc.wait()
        del self.procs[name]
        if returncode != 0:
            log = (self.workdir / f"{name}.log").read_text(errors="replace")
            raise StackError(f"{' '.join(cmd[1:])} failed (exit {returncode}):\n{log[-4000:]}")

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
        self.spawn(
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
            f"global: {{scrape_interval: {SCRAPE_INTERVAL}, evaluation_interval: {SCRAPE_INTERVAL}}}\n"
            "scrape_configs:\n"
            f"  - job_name: kubesim\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        data = self.workdir / "prometheus-data"
        shutil.rmtree(data, ignore_errors=True)
        self.spawn(
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
        self.say(f"Prometheus scraping kubesim every {SCRAPE_INTERVAL} on {self.prometheus_url}")

    def _start_alertmanager(self, binary: str) -> None:
        port = free_port()
        config = self.workdir / "alertmanager.yml"
        config.write_text("route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n")
        data = self.workdir / "alertmanager-data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        self.spawn(
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
        # Airlock's DAG library preloaded in every Airflow process, so task processes inherit it (see there)
        (self.airflow_home / "config").mkdir(exist_ok=True)
        shutil.copy(REPO / "config" / "airflow_local_settings.py", self.airflow_home / "config")
        # Pre-seed the simple auth manager's password file: standalone keeps an existing one, so the
        # demo knows the login (for the REST API and the run-note connection) before Airflow starts.
        (self.airflow_home / "simple_auth_manager_passwords.json.generated").write_text(
            json.dumps({"admin": self.password})
        )
        self.say("Preparing Airflow (metadata DB migration and DAG serialization; ~30 s the first time) ...")
        for args in (["db", "migrate"], ["dags", "reserialize"]):
            self._run(f"airflow-{'-'.join(args)}", [airflow, *args], env=env)
        self.spawn("airflow", [airflow, "standalone"], env=env)
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


def stop_process_tree(
    proc: subprocess.Popen[Any],
    grace: float = 15.0,
    hurry: Callable[[], bool] = lambda: False,
    signum: int = signal.SIGTERM,
) -> None:
    """Stop a child started in its own session, and every process under it: `signum` (SIGTERM), then
    SIGKILL after `grace` seconds (at once when `hurry()` turns true). Safe on a child that already exited.

    The child's process group is signalled as a whole; processes that left it (Airflow's task
    supervisor gives each task a group of its own) are tracked one by one as descendants, found
    before any parent dies (an orphan is re-parented out of reach) and again while waiting (a
    process started during the shutdown). Individual processes are signalled through psutil, which
    refuses a pid reused by another process since."""
    # Until the leader is reaped its pid - the group's id - cannot be reused, and its children are
    # its. Once reaped (a child that died during start), the group id still names this group as long
    # as any member lives (Linux does not hand out a pid in use as a group id); only the leader's
    # pid itself may then belong to another process, so its "children" are not looked for.
    reaped = proc.returncode is not None
    known: dict[int, psutil.Process] = {}
    signalled: set[int] = set()

    def discover() -> None:
        found: list[psutil.Process] = []
        if not reaped:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                found += [root, *root.children(recursive=True)]
        # members of the group whose parent died (re-parented away from the tree)
        for candidate in psutil.process_iter():
            with contextlib.suppress(OSError, psutil.Error):
                if candidate.pid != os.getpid() and os.getpgid(candidate.pid) == proc.pid:
                    found.append(candidate)
        for tracked in list(known.values()):
            with contextlib.suppress(psutil.Error):
                found += tracked.children(recursive=True)
        for process in found:
            known.setdefault(process.pid, process)

    def alive() -> list[psutil.Process]:
        return [p for p in known.values() if _running(p)]

    def send(sig: int, only_new: bool = False) -> None:
        if not only_new:  # once per signal: to some servers a second SIGTERM means "skip the cleanup"
            with contextlib.suppress(ProcessLookupError, PermissionError):  # (see `reaped` above)
                os.killpg(proc.pid, sig)
        for process in alive():
            if only_new and process.pid in signalled:
                continue
            signalled.add(process.pid)
            with contextlib.suppress(psutil.Error):
                process.send_signal(sig)

    discover()
    send(signum)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not hurry():
        discover()
        if not alive():
            break
        send(signum, only_new=True)
        time.sleep(0.1)
    for _ in range(50):  # SIGKILL cannot be ignored; the loop covers a fork racing the kill
        discover()
        if not alive():
            break
        send(signal.SIGKILL)
        time.sleep(0.1)
    # reaped only now (never proc.poll() above): until here the leader's pid stays reserved
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    # Members that died are zombies until their parent (or init, for orphans) reaps them, and a group
    # with a zombie still exists: return once the group is gone, so "stopped" means no trace is left.
    # Bounded: a container whose init never reaps would otherwise hold the cleanup forever.
    settle = time.monotonic() + 10
    while time.monotonic() < settle:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            break
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie (an orphaned zombie waits for init, which may never reap it)."""
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
