"""Airflow with the CeleryExecutor as separate local processes, on PostgreSQL and Redis from Debian.

`ScaleOutStack` is the demo's `Stack` (kubesim, Prometheus, Alertmanager, the Slack stand-in, the
process-tree cleanup) with its Airflow part replaced by the topology of `docker-compose.yaml`:

    postgres  redis  api-server  scheduler-1  scheduler-2  dag-processor  triggerer
    celery-worker-1  celery-worker-2

Every process is a child of the stack (own session, log in `<workdir>/<name>.log`), so `stop()` ends
all of them and nothing else. PostgreSQL refuses to run as root: as root, initdb and postgres run as
the `postgres` system user (setpriv, util-linux), in a data directory that user owns; as anyone else
they run as that user. Data lives under the work directory (git-ignored `.scaleout/`), or, when the
`postgres` user cannot reach it (a clone under /root), in a private temporary directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import redis
import requests
from celery import Celery
from cryptography.fernet import Fernet

from demo.airflow_api import AirflowAPI
from demo.stack import REPO, Stack, StackError, ensure_binary, free_port, say

SCHEDULERS = ("scheduler-1", "scheduler-2")
WORKERS = ("celery-worker-1", "celery-worker-2")
# the process-name env var read by `process_hostname`: it names each process in task instances and jobs
PROCESS_NAME_ENV = "AIRLOCK_PROCESS_NAME"
PG_USER = "postgres"  # the Debian package's system user
# Airflow's processes run at a lower CPU priority than the world they act on: in production kubesim's
# part (the Kubernetes API) and Prometheus run on machines of their own; here they share 2 cores with
# 16 busy worker slots. Niceness only orders who runs first: Airflow still gets every cycle the others
# leave idle, so the figures remain Airflow's own. (Alone it did not keep the scrapes in time - at load 20
# 66 of 315 failed; what did was kubesim's /metrics no longer waiting for its store, World.traffic_checkpoint.)
AIRFLOW_NICENESS = 10


def process_hostname() -> str:
    """Airflow's `[core] hostname_callable` for the scale-out: every process on this one machine gets
    its own name (task instances show which Celery worker ran them), else the machine's name."""
    import socket

    return os.environ.get(PROCESS_NAME_ENV) or socket.getfqdn()


def locate_postgres(name: str) -> str | None:
    """Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<major>/bin; newest major first."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major, reverse=True)
    return found[0] if found else shutil.which(name)


def _major(path: str) -> float:
    try:
        return float(Path(path).parent.parent.name)
    except ValueError:
        return 0.0


class ScaleOutStack(Stack):
    """The demo's Stack, with Airflow as a CeleryExecutor deployment instead of `airflow standalone`."""

    def __init__(
        self,
        workdir: Path,
        scenario: Path,
        dags_folder: Path,
        worker_slots: int = 8,
        say: Callable[[str], None] = say,
        stop_grace: float = 15.0,
    ) -> None:
        super().__init__(workdir, scenario=scenario, airflow_port=free_port(), say=say, stop_grace=stop_grace)
        self.dags_folder = dags_folder
        self.worker_slots = worker_slots  # per Celery worker
        self.db_password = secrets.token_urlsafe(16)
        self.redis_password = secrets.token_urlsafe(16)
        self.pg_port = 0
        self.redis_port = 0
        self.pg_dir = workdir / "postgres"
        self._pg_tmp: Path | None = None  # a private temporary data directory, removed by stop()
        self.jwt_secret = secrets.token_urlsafe(32)
        self.fernet_key = Fernet.generate_key().decode()
        self.log_ports: dict[str, int] = {}

    def stop(self) -> None:
        super().stop()
        if self._pg_tmp is not None and not self.procs:  # PostgreSQL is gone: its data may go too
            shutil.rmtree(self._pg_tmp, ignore_errors=True)
            self._pg_tmp = None

    # -- URLs ------------------------------------------------------------------------------------
    def db_dsn(self) -> str:
        return f"postgresql://airflow:{self.db_password}@127.0.0.1:{self.pg_port}/airflow"

    def broker_url(self) -> str:
        return f"redis://:{self.redis_password}@127.0.0.1:{self.redis_port}/0"

    def db(self) -> Any:
        """A psycopg2 connection to the metadata DB (autocommit), for reading what the runs did."""
        conn = psycopg2.connect(self.db_dsn(), connect_timeout=10)
        conn.autocommit = True
        return conn

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of one read from the metadata DB, on a connection of its own."""
        with contextlib.closing(self.db()) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    # -- PostgreSQL ------------------------------------------------------------------------------
    def _as_pg_user(self) -> list[str]:
        """Command prefix that runs a PostgreSQL binary as a user it accepts (never root)."""
        if os.geteuid() != 0:
            return []
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise StackError("running as root, PostgreSQL must run as the postgres user: setpriv is missing")
        return [setpriv, f"--reuid={PG_USER}", f"--regid={PG_USER}", "--init-groups", "--"]

    def _pg_can_use(self, directory: Path) -> bool:
        if os.geteuid() != 0:
            return True
        probe = subprocess.run([*self._as_pg_user(), "test", "-w", str(directory)], check=False)
        return probe.returncode == 0

    def _start_postgres(self) -> None:
        postgres = ensure_binary("postgres", self.say, locate=locate_postgres)
        initdb = str(Path(postgres).with_name("initdb"))
        shutil.rmtree(self.pg_dir, ignore_errors=True)
        self.pg_dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(PG_USER)
            except KeyError as exc:
                raise StackError(
                    f"running as root, but there is no {PG_USER!r} user to run PostgreSQL"
                ) from exc
            os.chown(self.pg_dir, user.pw_uid, user.pw_gid)
            if not self._pg_can_use(self.pg_dir):
                # e.g. a clone under /root (mode 700): the postgres user cannot reach the project
                self.pg_dir.rmdir()
                self.pg_dir = self._pg_tmp = Path(tempfile.mkdtemp(prefix="airlock-scaleout-pg-"))
                os.chown(self.pg_dir, user.pw_uid, user.pw_gid)
                self.say(f"  ({PG_USER} cannot reach {self.workdir}: PostgreSQL data in {self.pg_dir})")
            owner = (user.pw_uid, user.pw_gid)
        else:
            owner = None
        pwfile = self.pg_dir / "pwfile"
        pwfile.write_text(self.db_password)
        if owner:
            os.chown(pwfile, *owner)
        data = self.pg_dir / "data"
        self._run(
            "postgres-initdb",
            [
                *self._as_pg_user(),
                initdb,
                f"--pgdata={data}",
                "--username=airflow",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ],
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
        pwfile.unlink()
        self.pg_port = free_port()
        self.spawn(
            "postgres",
            [
                *self._as_pg_user(),
                postgres,
                "-D",
                str(data),
                "-p",
                str(self.pg_port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",  # TCP on loopback only: no socket in /run/postgresql
                "-c",
                "max_connections=300",
                # a throwaway metadata DB: durability traded for speed on a small machine
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
        )

        def ready() -> bool:
            try:
                conn = psycopg2.connect(
                    f"postgresql://airflow:{self.db_password}@127.0.0.1:{self.pg_port}/postgres",
                    connect_timeout=2,
                )
            except psycopg2.OperationalError:  # not accepting connections yet
                return False
            conn.autocommit = True
            with contextlib.closing(conn), conn.cursor() as cur:
                cur.execute("CREATE DATABASE airflow")
            return True

        self._wait_for("postgres", ready, 60)
        self.say(
            f"PostgreSQL ({Path(postgres).parent.parent.name}) on 127.0.0.1:{self.pg_port}, data in {data}"
        )

    # -- Redis -----------------------------------------------------------------------------------
    def _start_redis(self) -> None:
        binary = ensure_binary("redis-server", self.say)
        data = self.workdir / "redis"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        self.redis_port = free_port()
        config = data / "redis.conf"
        config.write_text(
            f"port {self.redis_port}\nbind 127.0.0.1\nprotected-mode yes\ndir {data}\n"
            f'save ""\nappendonly no\nrequirepass {self.redis_password}\n'
        )
        config.chmod(0o600)
        self.spawn("redis", [binary, str(config)])
        client = redis.Redis(host="127.0.0.1", port=self.redis_port, password=self.redis_password)

        def ready() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        self._wait_for("redis", ready, 30)
        client.close()
        self.say(f"Redis (Celery broker) on 127.0.0.1:{self.redis_port}")

    # -- Airflow ---------------------------------------------------------------------------------
    def airflow_env(self) -> dict[str, str]:
        """The demo's environment (connections, paths, API port) with the CeleryExecutor on PostgreSQL."""
        env = super().airflow_env()
        db = f"airflow:{self.db_password}@127.0.0.1:{self.pg_port}/airflow"
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "demo.scaleout_stack.process_hostname",
                "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
                # per scheduler; the Celery workers' slots are the real limit
                "AIRFLOW__CORE__PARALLELISM": "64",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{db}",
                "AIRFLOW__CELERY__BROKER_URL": self.broker_url(),
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{db}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_slots),
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                # Airlock's DAG library preloaded in each worker (see demo/scaleout_celery.py)
                "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "demo.scaleout_celery.CELERY_CONFIG",
                # a message a dead worker had taken goes back to the queue after this long
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "300",
                # every process (api-server, schedulers, workers) must sign and check the same tokens
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__API__WORKERS": "2",
                "AIRFLOW__API__HOST": "127.0.0.1",
                # a task's calls to the execution API: patient on a busy machine (default 5 s, 5 tries)
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
                # crash detection at test speed: a task whose worker died is failed after 60 s without
                # a heartbeat (a live task's supervisor beats every few seconds, but on a saturated
                # machine a beat can be late by tens of seconds), a dead scheduler's tasks are adopted
                # after 15 s
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
                "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "15",
                # Not shorter than the longest wait for a free slot: a task queued longer is revoked
                # and put back at the end of the queue, and the third time it is failed - and its
                # deployment with it. 50 runs at once on 16 slots queue tasks for minutes on a slow
                # machine (pinned to one core here: p95 85 s, and 6 tasks requeued with the 90 s this
                # was; a CI run where p95 was 72 s failed one healthy deployment, so-fleet-39, without
                # an error in its record). Airflow's default, 600 s: a message lost with a killed
                # worker comes back sooner anyway (Redis's visibility timeout above, 300 s).
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                # The services do not change during a run and `dags reserialize` parsed them before the
                # start: re-parse rarely (the demo's 5 s would keep a core busy with 50+ services), and
                # give a parse on a loaded machine time (a timed-out parse deactivates every DAG)
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "600",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
                "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "300",
            }
        )
        return env

    def _process_env(self, name: str) -> dict[str, str]:
        env = self.airflow_env()
        env[PROCESS_NAME_ENV] = name
        # each process that serves logs gets its own port: several workers share this machine
        self.log_ports.setdefault(name, free_port())
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(self.log_ports[name])
        return env

    def start_process(self, name: str) -> None:
        """Start (or restart, after kill()) one Airflow process of the topology by its name."""
        airflow = str(Path(sys.executable).parent / "airflow")
        if name in WORKERS:
            cmd = [
                airflow,
                "celery",
                "worker",
                "--concurrency",
                str(self.worker_slots),
                "--celery-hostname",
                f"{name}@%h",
            ]
        elif name in SCHEDULERS:
            cmd = [airflow, "scheduler"]
        elif name in ("api-server", "dag-processor", "triggerer"):
            cmd = [airflow, name]
        else:
            raise ValueError(
                f"unknown process {name!r}: one of api-server, dag-processor, triggerer, "
                f"{', '.join(SCHEDULERS + WORKERS)}"
            )
        # (`nice` execs the command: the pid, process group and SIGKILL of kill() are the process's own)
        self.spawn(name, ["nice", "-n", str(AIRFLOW_NICENESS), *cmd], env=self._process_env(name))

    def _start_airflow(self) -> None:
        self._start_postgres()
        self._start_redis()
        env = self.airflow_env()
        airflow = str(Path(sys.executable).parent / "airflow")
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        (self.airflow_home / "simple_auth_manager_passwords.json.generated").write_text(
            f'{{"admin": "{self.password}"}}'
        )
        self.say("Preparing Airflow on PostgreSQL (migration and DAG serialization) ...")
        for args in (["db", "migrate"], ["dags", "reserialize"]):
            self._run(f"airflow-{'-'.join(args)}", [airflow, *args], env=env)
        for name in ("api-server", *SCHEDULERS, "dag-processor", "triggerer", *WORKERS):
            self.start_process(name)
        url = f"http://127.0.0.1:{self.airflow_port}"
        self._wait_for("api-server", lambda: requests.get(f"{url}/api/v2/monitor/health", timeout=3).ok, 240)
        self.api = AirflowAPI(url, "admin", self.password)
        self._wait_for("scheduler-1", self._components_healthy, 180)
        self._wait_for("celery-worker-1", lambda: set(self.celery_workers()) >= set(WORKERS), 180)
        self.say(
            f"Airflow (CeleryExecutor) on {url} (login admin / {self.password}): api-server, "
            f"{len(SCHEDULERS)} schedulers, dag-processor, triggerer, {len(WORKERS)} Celery workers x "
            f"{self.worker_slots} slots"
        )

    def celery_workers(self) -> list[str]:
        """The Celery workers answering a ping (by their --celery-hostname prefix)."""
        app = Celery(broker=self.broker_url())
        try:
            replies = app.control.ping(timeout=1.0) or []
        finally:
            app.close()
        return sorted(host.split("@", 1)[0] for reply in replies for host in reply)

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise StackError(f"{what}: not reached within {timeout:.0f}s")
            time.sleep(1)
