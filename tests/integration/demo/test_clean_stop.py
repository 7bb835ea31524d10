"""Stopping the demo stack by signal leaves no process behind (issue 14).

Each test starts a driver process that runs the real path the demo and the benchmarks take -
demo.stack.run_with_stack over a Stack (kubesim, with Prometheus and Alertmanager where it
matters) - plus a fake process tree spawned through the Stack like any component. The tree has what
a real Airflow has and what a plain killpg misses or cannot end politely:

- processes in the child's own group, one of them orphaned (its parent exited: re-parented to init);
- a process in a session of its own, with a child of its own (Airflow's task supervisor puts each
  task in a group of its own);
- processes that ignore SIGTERM (they need the SIGKILL after the grace period).

Then the test signals the driver as a user would (SIGTERM, SIGHUP, the terminal's Ctrl-C to the
driver's whole process group, with stdout piped to a reader that died first) and checks, by pid and
creation time (psutil: a reused pid is not a survivor) and by process group, that nothing survives.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[3]
READY_TIMEOUT = 90  # a loaded 2-core machine: kubesim, Prometheus, Alertmanager start in seconds
EXIT_TIMEOUT = 60

TREE = textwrap.dedent(
    r"""
    import json, os, subprocess, sys, time
    import psutil

    me = os.getpid()
    subprocess.Popen(["sleep", "600"])
    subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 600 & wait"])  # the sleep inherits the ignore
    subprocess.Popen(["sh", "-c", "(sleep 600 &); exec sleep 600"])  # the first sleep is orphaned
    subprocess.Popen(["sh", "-c", "sleep 600 & wait"], start_new_session=True)

    def members(pgid):
        out = []
        for p in psutil.process_iter():
            try:
                if os.getpgid(p.pid) == pgid:
                    out.append(p.pid)
            except (OSError, psutil.Error):
                pass
        return out

    # until every fork has happened (a transient `sh` subshell does not count): in this group the
    # tree, 4 sleeps and the TERM-proof sh; in the new session its sh and sleep
    while True:
        try:
            group = members(me)
            names = {pid: psutil.Process(pid).name() for pid in group}
            escaped = [p for p in psutil.Process(me).children(recursive=True) if p.pid not in names]
            term_proof = [p.pid for p in psutil.Process(me).children() if "trap" in " ".join(p.cmdline())]
            sleeps = [pid for pid, name in names.items() if name == "sleep"]
            if len(sleeps) == 4 and term_proof and sorted(p.name() for p in escaped) == ["sh", "sleep"]:
                group = [me, *term_proof, *sleeps]
                escaped = [p.pid for p in escaped]
                break
        except (OSError, psutil.Error):  # a process that came and went while we looked
            pass
        time.sleep(0.05)
    Path = __import__("pathlib").Path
    out = Path(sys.argv[1])
    out.with_suffix(".tmp").write_text(json.dumps({"group": group, "escaped": escaped}))
    out.with_suffix(".tmp").rename(out)
    time.sleep(600)
    """
)

DRIVER = textwrap.dedent(
    r"""
    import json, sys, time
    from pathlib import Path
    from demo.stack import Stack, run_with_stack, say

    workdir, components, grace = Path(sys.argv[1]), sys.argv[2].split(","), float(sys.argv[3])

    def body(stack):
        tree = stack.spawn("tree", [sys.executable, "-c", sys.argv[4], str(workdir / "tree.json")])
        while not (workdir / "tree.json").exists():
            if tree.poll() is not None:
                raise SystemExit(f"the fake tree exited with {tree.returncode}")
            time.sleep(0.05)
        ready = {"stack": {name: p.pid for name, p in stack.procs.items()}}
        ready.update(json.loads((workdir / "tree.json").read_text()))
        (workdir / "ready.tmp").write_text(json.dumps(ready))
        (workdir / "ready.tmp").rename(workdir / "ready.json")
        say("ready")
        while True:
            time.sleep(3600)

    sys.exit(run_with_stack(Stack(workdir, components=components, stop_grace=grace, say=say), body))
    """
)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _group_members(pgids: set[int]) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(process.pid) in pgids and _running(process):
                found.append(process)
    return found


def _terminal_signal_defaults() -> None:
    for signum in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)


class Driver:
    def __init__(self, workdir: Path, components: tuple[str, ...], grace: float, piped: bool) -> None:
        self.workdir = workdir
        workdir.mkdir()
        self.out_path = workdir / "driver.out"
        self.err_path = workdir / "driver.err"
        self._out = None if piped else self.out_path.open("wb")
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(workdir), ",".join(components), str(grace), TREE],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE if piped else self._out,
            stderr=self._err,
            start_new_session=True,  # its own group, as a terminal's foreground job is
            # and with SIGINT and SIGQUIT at their defaults, as a terminal's shell starts a foreground job: a
            # pytest started in the background by a non-interactive shell (`make test &`) ignores both,
            # and an ignored signal stays ignored across exec (the demo then rightly keeps ignoring it)
            preexec_fn=_terminal_signal_defaults,
        )
        self.victims: list[psutil.Process] = []
        self.groups: set[int] = set()

    def output(self) -> str:
        text = self.out_path.read_text(errors="replace") if self.out_path.exists() else ""
        return text + self.err_path.read_text(errors="replace")

    def wait_ready(self) -> dict:
        deadline = time.monotonic() + READY_TIMEOUT
        ready = self.workdir / "ready.json"
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                logs = {p.name: p.read_text(errors="replace")[-2000:] for p in self.workdir.glob("*.log")}
                pytest.fail(f"driver not ready (exit {self.proc.returncode}):\n{self.output()}\n{logs}")
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        self.groups = set(info["stack"].values())  # each child of the stack leads its own group
        pids = {*info["stack"].values(), *info["group"], *info["escaped"]}
        pids |= {p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)}
        pids |= {p.pid for p in _group_members(self.groups)}
        for pid in sorted(pids):
            with contextlib.suppress(psutil.NoSuchProcess):  # a transient fork (a shell's subshell)
                self.victims.append(psutil.Process(pid))  # pid + creation time
        return info

    def survivors(self) -> list[str]:
        alive = {p.pid: p for p in self.victims if _running(p)}
        alive.update({p.pid: p for p in _group_members(self.groups)})
        return [f"{p.pid} {' '.join(p.cmdline()[:3])}" for p in alive.values() if _running(p)]

    def kill_everything(self) -> None:
        """Teardown, whatever the test did: no test run leaves processes on the machine."""
        if self.proc.poll() is None:
            self.proc.kill()
        for process in [*self.victims, *_group_members(self.groups)]:
            with contextlib.suppress(psutil.Error):
                if _running(process):
                    process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for handle in (self._out, self._err, self.proc.stdout):
            if handle is not None:
                handle.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    drivers: list[Driver] = []

    def starter(
        components: tuple[str, ...] = ("kubesim",), grace: float = 1.0, piped: bool = False
    ) -> Driver:
        if {"prometheus", "alertmanager"} & set(components):
            for binary in ("prometheus", "prometheus-alertmanager"):
                if not shutil.which(binary):
                    pytest.skip(f"{binary} is not installed")
        driver = Driver(tmp_path / f"run{len(drivers)}", components, grace, piped)
        drivers.append(driver)
        driver.wait_ready()
        return driver

    yield starter
    for driver in drivers:
        driver.kill_everything()


def _assert_all_stopped(driver: Driver, signum: int) -> None:
    try:
        returncode = driver.proc.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the driver did not exit after {signal.Signals(signum).name}:\n{driver.output()}")
    assert driver.survivors() == [], driver.output()
    assert returncode == 128 + signum, driver.output()
    assert "Traceback" not in driver.output()


def test_the_fake_tree_is_what_a_plain_killpg_misses(start) -> None:
    """The fixture itself: the tree really has an escaped session and SIGTERM-proof processes,
    so the tests below can fail (a killpg of the stack's groups alone leaves the escaped ones)."""
    driver = start()
    info = json.loads((driver.workdir / "ready.json").read_text())
    escaped = [psutil.Process(pid) for pid in info["escaped"]]
    assert all(os.getpgid(p.pid) not in driver.groups for p in escaped)
    for pgid in driver.groups:
        os.killpg(pgid, signal.SIGKILL)
    time.sleep(0.5)
    assert all(_running(p) for p in escaped)


@pytest.mark.parametrize(
    ("signum", "components"),
    [
        # `kill <bench/worker_slots.py>` used to leave kubesim, Prometheus and Alertmanager running
        (signal.SIGTERM, ("kubesim", "prometheus", "alertmanager")),
        (signal.SIGHUP, ("kubesim",)),  # the terminal closed
    ],
    ids=["SIGTERM", "SIGHUP"],
)
def test_a_signal_to_the_process_stops_every_process_it_started(start, signum: int, components) -> None:
    driver = start(components)
    os.kill(driver.proc.pid, signum)
    _assert_all_stopped(driver, signum)
    out = driver.output()
    assert all(f"stopped {name} (pid" in out for name in (*components, "tree")), out


def test_ctrl_c_in_a_terminal_stops_every_process(start) -> None:
    """A terminal's ^C goes to the whole foreground process group (the driver, anything it ran
    without a session of its own); the stack's children, in their own sessions, get nothing."""
    driver = start()
    os.killpg(driver.proc.pid, signal.SIGINT)
    _assert_all_stopped(driver, signal.SIGINT)


def test_ctrl_c_with_stdout_piped_to_a_reader_that_died_first(start) -> None:
    """`make demo | tee demo.log` + ^C: tee dies too, and the cleanup's progress lines hit a closed
    pipe (BrokenPipeError) - which used to end the cleanup after the first child, leaving kubesim,
    Prometheus and Alertmanager running."""
    driver = start(("kubesim", "prometheus", "alertmanager"), piped=True)
    assert driver.proc.stdout is not None
    while driver.proc.stdout.readline() not in (b"ready\n", b""):  # our end is the only reader
        pass
    driver.proc.stdout.close()
    os.killpg(driver.proc.pid, signal.SIGINT)
    _assert_all_stopped(driver, signal.SIGINT)
    err = driver.err_path.read_text()
    # the lines stdout could not take went to stderr (the terminal, under `| tee`)
    for name in ("tree", "alertmanager", "prometheus", "kubesim"):
        assert f"stopped {name} (pid" in err, err
    assert "BrokenPipeError" not in err and "Exception ignored" not in err, err


def test_a_second_signal_during_the_cleanup_kills_at_once_instead_of_interrupting_it(start) -> None:
    """The first ^C starts a polite stop with a grace period (here 300 s, and the tree ignores
    SIGTERM); a second ^C must neither cut the cleanup short (orphans) nor wait out the grace."""
    driver = start(grace=300)
    os.killpg(driver.proc.pid, signal.SIGINT)
    deadline = time.monotonic() + 30
    while "Stopping tree, kubesim" not in driver.output():
        assert time.monotonic() < deadline, driver.output()
        time.sleep(0.1)
    time.sleep(0.5)  # inside the grace period of the tree, SIGTERM already sent
    assert driver.proc.poll() is None, "the first signal must not skip the grace period"
    os.killpg(driver.proc.pid, signal.SIGINT)
    _assert_all_stopped(driver, signal.SIGINT)  # within EXIT_TIMEOUT (60 s), far below the grace


def test_a_signal_ignored_by_the_caller_stays_ignored() -> None:
    """`nohup make demo`: SIGHUP is ignored on purpose and must not stop the stack."""
    script = textwrap.dedent(
        """
        import os, signal
        from demo.stack import interrupt_on_stop_signals
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with interrupt_on_stop_signals():
            os.kill(os.getpid(), signal.SIGHUP)  # ignored
            try:
                os.kill(os.getpid(), signal.SIGTERM)
            except KeyboardInterrupt as exc:
                print(type(exc).__name__, exc.signum)
        # both restored: SIGHUP still ignored, SIGTERM back to the default
        print(signal.getsignal(signal.SIGHUP) is signal.SIG_IGN, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split("\n")[:2] == [f"Interrupted {int(signal.SIGTERM)}", "True True"], (
        result.stdout + result.stderr
    )
