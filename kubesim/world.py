"""The simulated cluster: store, clock, controllers, kubelet, traffic, faults and audit, plus the
reconcile loop that ties them together.

Controllers run synchronously after every API write (so effects are visible to the next request)
and from a timer thread that sleeps until the next scheduled change (a pod becoming ready, a
progress deadline, ...) or until a write wakes it: nothing polls while the world is idle.
"""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

from kubesim.api import Api
from kubesim.audit import AuditLog
from kubesim.clock import Clock
from kubesim.controllers.deployment import DeploymentController
from kubesim.controllers.endpoints import EndpointsController
from kubesim.controllers.job import JobController
from kubesim.controllers.replicaset import ReplicaSetController
from kubesim.errors import ApiError
from kubesim.events import EventRecorder
from kubesim.faults import Faults
from kubesim.gc import GarbageCollector
from kubesim.kubelet import Kubelet
from kubesim.logs import LogSource
from kubesim.nodes import MetricsApi, node_object
from kubesim.objects import Obj, name_of
from kubesim.resources import BY_KEY, ResourceType, by_kind
from kubesim.scenario import ImageProfile, Scenario, parse_scenario
from kubesim.store import Store
from kubesim.traffic import Traffic

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
MAX_PASSES = 50


class World:
    def __init__(self, scenario: Scenario | dict[str, Any] | str | None = None, seed: int = 0) -> None:
        if not isinstance(scenario, Scenario):
            scenario = parse_scenario(scenario)
        self.scenario = scenario
        self.seed = scenario.seed if scenario.seed is not None else seed
        self._rand = random.Random(self.seed)
        self.clock = Clock()
        self.store = Store()
        self.api = Api(self)
        self.events = EventRecorder(self)
        self.gc = GarbageCollector(self)
        self.kubelet = Kubelet(self)
        self.controllers = [JobController(self), DeploymentController(self), ReplicaSetController(self)]
        self.endpoints = EndpointsController(self)
        self.traffic = Traffic(self, self.seed)
        self.metrics_api = MetricsApi(self)
        self.logs = LogSource(self)
        self.faults = Faults()
        self.audit = AuditLog()
        self._ips: dict[str, int] = {}
        self._timer_cv = threading.Condition()
        self._kicked = False
        self.tick = threading.Condition()  # notified after every reconcile (log follow waits on it)
        self.stopping = threading.Event()
        self._timer: threading.Thread | None = None
        self._setup()

    # -- identity helpers used by the API and controllers -----------------------------------------
    def new_uid(self) -> str:
        return str(uuid.UUID(int=self._rand.getrandbits(128), version=4))

    def rng_suffix(self, n: int) -> str:
        return "".join(self._rand.choice(_SAFE) for _ in range(n))

    def rng_hex(self, n: int) -> str:
        return "".join(self._rand.choice("0123456789abcdef") for _ in range(n))

    def allocate_ip(self, prefix: str) -> str:
        i = self._ips.get(prefix, 0) + 1
        self._ips[prefix] = i
        return f"{prefix}.{i // 250}.{i % 250 + 1}" if prefix.count(".") == 1 else f"{prefix}.{i}"

    def rt(self, key: str) -> ResourceType:
        return BY_KEY[key]

    def profile(self, image: str) -> ImageProfile:
        return self.scenario.profile_for(image)

    def create_internal(self, key: str, ns: str, obj: Obj) -> Obj:
        """Create on behalf of a controller: same defaulting as the API, no audit, no reconcile."""
        rt = BY_KEY[key]
        prepared = self.api.prepare_create(rt, ns, obj)
        return self.store.put(key, prepared)

    # -- setup ------------------------------------------------------------------------------------
    def _setup(self) -> None:
        with self.store.lock:
            for ns in (*SYSTEM_NAMESPACES, *self.scenario.namespaces):
                self._ensure_namespace(ns)
            self._ensure_nodes()
            self._create_objects(self.scenario.objects)
            self.reconcile()

    def _ensure_namespace(self, ns: str) -> None:
        if self.store.get("/namespaces", "", ns) is None:
            self.create_internal("/namespaces", "", {"metadata": {"name": ns}})

    def _ensure_nodes(self) -> None:
        now = self.clock.now()
        for i, spec in enumerate(self.scenario.nodes):
            if self.store.get("/nodes", "", spec.name) is None:
                node = node_object(spec, i, now)
                self.store.put("/nodes", self.api.prepare_create(self.rt("/nodes"), "", node))

    def _create_objects(self, objects: list[dict[str, Any]]) -> None:
        for raw in objects:
            rt = by_kind(str(raw.get("apiVersion", "")), str(raw.get("kind", "")))
            if rt is None:
                raise ValueError(
                    f"scenario object of unsupported kind: {raw.get('apiVersion')}/{raw.get('kind')}"
                )
            ns = (raw.get("metadata") or {}).get("namespace") or "default"
            if rt.namespaced:
                self._ensure_namespace(ns)
            if self.store.get(rt.key, ns if rt.namespaced else "", name_of(raw)) is None:
                self.api.create(rt, ns if rt.namespaced else "", raw)

    def set_scenario(self, scenario: Scenario | dict[str, Any] | str) -> None:
        if not isinstance(scenario, Scenario):
            scenario = parse_scenario(scenario)
        with self.store.lock:
            self.traffic_checkpoint()  # past traffic is accounted with the old profiles
            self.scenario = scenario
            if scenario.seed is not None:
                self.traffic.reseed(scenario.seed)
            for ns in scenario.namespaces:
                self._ensure_namespace(ns)
            self._ensure_nodes()
            self._create_objects(scenario.objects)
            self.reconcile()

    # -- reconcile ---------------------------------------------------------------------------------
    def traffic_checkpoint(self, wait: float | None = None) -> None:
        """Accrue the simulated traffic up to now. With `wait`, give up after that many seconds when the
        store is busy: a scrape of /metrics then answers with the counts of the last checkpoint. Those are
        seconds old at most - the writers holding the store reconcile, and every reconcile checkpoints
        first. Real pods serve /metrics whatever load the API server is under; in kubesim one lock serves
        both, and under 50 concurrent deployments a scrape waited behind chains of reconciles past
        Prometheus's 2 s timeout (up == 0 for 20 s stretches), leaving the gates' windows without data."""
        if not self.store.lock.acquire(timeout=-1 if wait is None else wait):
            return
        try:
            self.traffic.accrue(self.clock.now())
        finally:
            self.store.lock.release()

    def reconcile(self) -> None:
        with self.store.lock:
            self.traffic_checkpoint()
            for _ in range(MAX_PASSES):
                before = self.store.rv
                for c in self.controllers:
                    c.sync()
                self.kubelet.sync()
                self.endpoints.sync()
                self.gc.sync()
                if self.store.rv == before:
                    break
        self._kick()
        with self.tick:
            self.tick.notify_all()

    def next_wakeup(self, significant_only: bool = False) -> float | None:
        times = [c.next_wakeup() for c in self.controllers]
        times.append(self.kubelet.next_wakeup(significant_only))
        times = [t for t in times if t is not None]
        return min(times) if times else None

    def advance(self, seconds: float) -> None:
        """Move simulated time forward, stopping at every significant change on the way so that
        controllers and traffic see intermediate states at the right simulated time."""
        if seconds < 0:
            raise ValueError("cannot go back in time")
        target = self.clock.now() + seconds
        for _ in range(1_000_000):
            with self.store.lock:
                self.reconcile()
                now = self.clock.now()
                nxt = self.next_wakeup(significant_only=True)
                if nxt is None or nxt >= target:
                    self.clock.advance(max(0.0, target - now))
                    self.reconcile()
                    return
                self.clock.advance(max(1e-3, nxt - now))

    # -- timer thread --------------------------------------------------------------------------------
    def _kick(self) -> None:
        with self._timer_cv:
            self._kicked = True
            self._timer_cv.notify()

    def start(self) -> None:
        if self._timer is None:
            self._timer = threading.Thread(target=self._timer_loop, name="kubesim-timer", daemon=True)
            self._timer.start()

    def _timer_loop(self) -> None:
        while not self.stopping.is_set():
            with self.store.lock:
                nxt = self.next_wakeup()
            delay = 3600.0 if nxt is None else max(0.01, nxt - self.clock.now())
            with self._timer_cv:
                if not self._kicked:
                    self._timer_cv.wait(timeout=min(delay, 3600.0))
                self._kicked = False
            if self.stopping.is_set():
                return
            if nxt is not None and self.clock.now() >= nxt:
                try:
                    self.reconcile()
                except ApiError:  # pragma: no cover - controllers should not raise API errors
                    pass

    def stop(self) -> None:
        self.stopping.set()
        self._kick()
        self.store.close_watchers()
        with self.tick:
            self.tick.notify_all()
        if self._timer is not None:
            self._timer.join(timeout=2)
