"""HTTP front end: stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive, chunked streaming for watch
and `logs -f`, JSON everywhere, Status objects for errors."""

from __future__ import annotations

import io
import json
import queue
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from kubesim import discovery, metrics
from kubesim.apps import handle_app
from kubesim.audit import WRITE_METHODS
from kubesim.auth import User
from kubesim.clock import parse_time
from kubesim.errors import ApiError, bad_request, status_object
from kubesim.faults import Fault, fault_from_dict
from kubesim.logs import render as render_logs
from kubesim.objects import Obj
from kubesim.rbac import AccessControl, access_review, access_review_from_protobuf, token_request
from kubesim.resources import VIRTUAL_GROUPS
from kubesim.routes import ResourceRequest, parse_resource_path, split_path
from kubesim.selectors import parse_field_selector, parse_label_selector
from kubesim.tables import to_table, wants_table
from kubesim.watch import Watcher
from kubesim.world import World

JSON = "application/json"
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
DEFAULT_WATCH_TIMEOUT = 1800.0
# how long a scrape of /metrics waits for a busy store before it answers the last checkpoint's counts
# (World.traffic_checkpoint): well inside Prometheus's 2 s scrape timeout
METRICS_CHECKPOINT_WAIT = 0.25


def parse_bool(value: str | None, name: str) -> bool:
    """Go's strconv.ParseBool, which the apiserver uses for `watch` and friends."""
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax ({name})')


class KubesimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        world: World,
        access: AccessControl | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(address, Handler)
        self.world = world
        self.access = access  # None: no authentication, everything allowed (see kubesim/rbac.py)
        self.scheme = "http"
        if tls is not None:  # HTTPS; the handshake happens in the handler's thread, not in accept()
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
            self.scheme = "https"

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.scheme == "https" and isinstance(sys.exc_info()[1], OSError):
            return  # a client that gave up during the TLS handshake (or shutdown's poke): not a bug
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: KubesimServer
    _after_fault: Fault | None = None  # a fault that strikes the answer of the request being handled

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def world(self) -> World:
        return self.server.world

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _send(
        self, code: int, payload: Any, content_type: str = JSON, headers: dict[str, str] | None = None
    ) -> None:
        fault, self._after_fault = self._after_fault, None
        if fault is not None:  # the request was handled: now its answer is held, replaced or lost
            self._status = code  # what was applied, for the audit log
            self._record_audit(code)
            if self._strike(fault):
                self._status = code
                return
        self._record_audit(code)
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = code

    def _strike(self, fault: Fault) -> bool:
        """Apply a fault's delay, then its reset or error answer; True when that answered the request."""
        if fault.delay:
            time.sleep(fault.delay)
        if fault.reset:
            self._reset_connection()
            return True
        if fault.status:
            self._send_fault_status(fault)
            return True
        return False

    def _send_fault_status(self, fault: Fault) -> None:
        assert fault.status is not None
        err = ApiError(fault.status, f"kubesim: injected fault ({fault.status})")
        retry_after = fault.retry_after if fault.retry_after is not None else "1" if err.code == 429 else None
        self._send(err.code, err.status(), headers={"Retry-After": retry_after} if retry_after else None)

    def _reset_connection(self) -> None:
        """Close the connection with a TCP RST (SO_LINGER 0) and no answer: a "connection reset"."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # the socket is really closed (RST) once no file object holds it
            self.wfile.close()
            self.connection.close()
        except OSError:
            pass
        # the handler still flushes and closes these after the request: give it harmless ones
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()

    def _send_error(self, err: ApiError) -> None:
        headers = {"Retry-After": "1"} if err.code == 429 else None
        self._send(err.code, err.status(), headers=headers)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self._status = 200

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- dispatch ----------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path, raw_query = url.path, url.query
        query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        body = self._read_body() if method not in ("GET", "HEAD") else b""
        self._status = 0
        self._after_fault = None
        admin = path.startswith("/_sim/") and not path.startswith("/_sim/apps/")
        if admin:
            try:
                self._admin(method, path, body, query)
            except ApiError as e:
                self._send_error(e)
            except (ValueError, TypeError, yaml.YAMLError) as e:
                self._send(400, {"error": str(e)})
            return
        is_watch = False
        try:
            is_watch = parse_bool(query.get("watch"), "watch")
        except ApiError:
            pass
        fault = self.world.faults.take(method, path, is_watch)
        audited = method in WRITE_METHODS and (path.startswith("/api/") or path.startswith("/apis/"))
        # recorded before the answer leaves (see _record_audit): a client that reads the audit log right
        # after its answer must find the write there
        self._pending_audit = (
            (method, path, raw_query, self.headers.get("Content-Type"), body, fault) if audited else None
        )
        try:
            if fault is not None and fault.after and not is_watch:
                self._after_fault = fault  # _send applies it to the answer
            elif fault is not None and self._strike(fault):
                return
            self._route(method, path, query, body, drop_watch=bool(fault and fault.drop_watch))
        except ApiError as e:
            self._send_error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - report as a 500 Status like the apiserver would
            self._send(500, status_object(500, f"kubesim internal error: {type(e).__name__}: {e}"))
            raise
        finally:
            self._record_audit(self._status)  # no answer was sent (a reset, a dropped connection)

    def _record_audit(self, status: int) -> None:
        """Audit the pending write once, with the status it was answered (or applied) with."""
        pending, self._pending_audit = getattr(self, "_pending_audit", None), None
        if pending is None:
            return
        method, path, raw_query, content_type, body, fault = pending
        self.world.audit.record(
            method,
            path,
            raw_query,
            content_type,
            body,
            status,
            self.world.clock.now(),
            fault=fault.describe() if fault is not None else None,
        )

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes, drop_watch: bool) -> None:
        w = self.world
        parts = split_path(path)
        if parts[:2] == ["_sim", "apps"]:
            code, payload = handle_app(w, parts[2:], body)
            self._send(code, payload)
            return
        if path == "/metrics" and method in ("GET", "HEAD"):
            w.traffic_checkpoint(wait=METRICS_CHECKPOINT_WAIT)
            self._send(200, metrics.render(w.traffic), metrics.CONTENT_TYPE)
            return
        user = self._admit(method, path, query)
        if method in ("GET", "HEAD"):
            doc = self._discovery(path)
            if doc is not None:
                self._send(200, doc)
                return
            if path in ("/healthz", "/readyz", "/livez"):
                self._send(200, "ok", "text/plain")
                return
        req = parse_resource_path(path)
        if req is None:
            raise ApiError(
                404,
                "the server could not find the requested resource",
                "NotFound",
                {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]},
            )
        if self._auth_api(method, req, body, user):
            return
        self._resource(method, req, query, body, drop_watch)

    def _admit(self, method: str, path: str, query: dict[str, str]) -> User | None:
        """Authenticate and authorize an API request when kubesim runs with tokens (401/403 otherwise)."""
        access = self.server.access
        if access is None:
            return None
        return access.admit(method, path, query, self.headers.get("Authorization"))

    def _auth_api(self, method: str, req: ResourceRequest, body: bytes, user: User | None) -> bool:
        """SelfSubjectAccessReview and TokenRequest, answered (never stored); True when it was one."""
        if method != "POST":
            return False
        if req.rt.kind == "SelfSubjectAccessReview" and req.name is None:
            protobuf = "protobuf" in (self.headers.get("Content-Type") or "")  # `kubectl auth can-i`
            sent = access_review_from_protobuf(body) if protobuf else self._parse_body(body)
            self._send(201, access_review(self.server.access, user, sent))
            return True
        if req.rt.plural == "serviceaccounts" and req.sub == "token" and req.name and req.namespace:
            w = self.world
            # `kubectl create token` sends its TokenRequest as protobuf; its spec (audiences, expiry)
            # only shapes the answer, so without JSON the defaults apply
            sent = None if "protobuf" in (self.headers.get("Content-Type") or "") else self._parse_body(body)
            answer = token_request(self.server.access, w.store, w.clock, req.namespace, req.name, sent)
            self._send(201, answer)
            return True
        return False

    def _discovery(self, path: str) -> Any:
        parts = split_path(path)
        if path in ("/version", "/version/"):
            return discovery.VERSION_INFO
        if parts == ["api"]:
            return discovery.api_versions()
        if parts == ["api", "v1"]:
            return discovery.resource_list("", "v1")
        if parts == ["apis"]:
            return discovery.api_group_list()
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(parts[1], parts[2])
        return None

    # -- resources ---------------------------------------------------------------------------
    def _parse_body(self, body: bytes) -> Any:
        ctype = (self.headers.get("Content-Type") or JSON).split(";")[0].strip().lower()
        if "protobuf" in ctype:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types "
                f"include: application/json, application/yaml (kubesim does not decode "
                f"{ctype}; send JSON, e.g. kubectl create -f manifest.yaml)",
                "UnsupportedMediaType",
            )
        if not body:
            return None
        try:
            if "yaml" in ctype and "apply-patch" not in ctype:
                return yaml.safe_load(body)
            return json.loads(body)
        except (ValueError, yaml.YAMLError) as e:
            raise bad_request(f"the body of the request could not be decoded: {e}") from None

    def _resource(
        self, method: str, req: ResourceRequest, query: dict[str, str], body: bytes, drop_watch: bool
    ) -> None:
        w, rt = self.world, req.rt
        ns = req.namespace or ""
        dry_run = query.get("dryRun") == "All"
        if rt.group in VIRTUAL_GROUPS:
            if method != "GET":
                raise ApiError(
                    405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
                )
            if req.name:
                self._send(200, w.metrics_api.get(rt.plural, ns, req.name))
            else:
                self._send(
                    200,
                    w.metrics_api.list(
                        rt.plural, req.namespace, parse_label_selector(query.get("labelSelector"))
                    ),
                )
            return
        if req.sub and rt.sub(req.sub) is None:
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        if req.name is None:
            if method == "GET":
                if parse_bool(query.get("watch"), "watch"):
                    self._watch(req, query, drop_watch)
                else:
                    lst = w.api.list(
                        rt, req.namespace, query.get("labelSelector"), query.get("fieldSelector")
                    )
                    if self._table():
                        lst = to_table(
                            rt.kind,
                            lst["items"],
                            w.clock.now(),
                            lst["metadata"]["resourceVersion"],
                            query.get("includeObject", "Metadata"),
                        )
                    self._send(200, lst)
                return
            if method == "POST":
                if not rt.namespaced and req.namespace:
                    raise ApiError(404, "the server could not find the requested resource", "NotFound")
                obj = w.api.create(rt, ns, self._parse_body(body), dry_run=dry_run)
                if not dry_run:
                    w.reconcile()
                self._send(201, obj)
                return
            if method == "DELETE":
                opts = self._parse_body(body) or {}
                if "propagationPolicy" in query:
                    opts["propagationPolicy"] = query["propagationPolicy"]
                out = w.api.delete_collection(
                    rt, req.namespace, query.get("labelSelector"), query.get("fieldSelector"), opts
                )
                w.reconcile()
                self._send(200, out)
                return
            raise ApiError(
                405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
            )
        if method == "GET":
            if req.sub == "log":
                self._logs(req, query)
                return
            if parse_bool(query.get("watch"), "watch"):
                query = dict(query, fieldSelector=f"metadata.name={req.name}")
                self._watch(req, query, drop_watch)
                return
            obj = w.api.get(rt, ns, req.name)
            if req.sub == "scale":
                obj = w.api.scale_of(rt, obj)
            elif self._table():
                obj = to_table(
                    rt.kind, [obj], w.clock.now(), include_object=query.get("includeObject", "Metadata")
                )
            self._send(200, obj)
            return
        if method == "PUT":
            obj = w.api.update(rt, ns, req.name, self._parse_body(body), req.sub, dry_run=dry_run)
        elif method == "PATCH":
            ctype = self.headers.get("Content-Type") or ""
            if "apply-patch" in ctype:
                raise ApiError(
                    415,
                    "kubesim does not implement server-side apply "
                    "(application/apply-patch+yaml); use client-side apply",
                    "UnsupportedMediaType",
                )
            obj = w.api.patch(rt, ns, req.name, ctype, self._parse_body(body), req.sub, dry_run=dry_run)
        elif method == "DELETE":
            opts = self._parse_body(body) or {}
            if "propagationPolicy" in query:
                opts["propagationPolicy"] = query["propagationPolicy"]
            obj = w.api.delete(rt, ns, req.name, opts, dry_run=dry_run)
        else:
            raise ApiError(
                405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
            )
        if not dry_run:
            w.reconcile()
        self._send(200, obj)  # the object as written, before controllers react (like the apiserver)

    def _table(self) -> bool:
        return wants_table(self.headers.get("Accept"))

    # -- watch -------------------------------------------------------------------------------
    def _watch(self, req: ResourceRequest, query: dict[str, str], drop: bool) -> None:
        w = self.world
        table = self._table()
        include = query.get("includeObject", "Metadata")

        def render(etype: str, obj: Obj) -> bytes:
            if table and etype in ("ADDED", "MODIFIED", "DELETED"):
                obj = to_table(req.rt.kind, [obj], w.clock.now(), include_object=include)
            return self._event(etype, obj)

        watcher = Watcher(
            req.rt.key,
            req.namespace,
            parse_label_selector(query.get("labelSelector")),
            parse_field_selector(query.get("fieldSelector")),
        )
        timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        send_initial = parse_bool(query.get("sendInitialEvents"), "sendInitialEvents")
        rv = "" if send_initial else query.get("resourceVersion")
        try:
            initial = w.store.watch(watcher, rv)
        except ApiError as e:
            self._start_stream(JSON)
            self._chunk(self._event("ERROR", e.status()))
            self._end_stream()
            return
        try:
            self._start_stream(JSON)
            for etype, obj in initial:
                self._chunk(render(etype, obj))
            if send_initial and parse_bool(query.get("allowWatchBookmarks"), "allowWatchBookmarks"):
                self._chunk(
                    self._event(
                        "BOOKMARK",
                        {
                            "kind": req.rt.kind,
                            "apiVersion": req.rt.api_version,
                            "metadata": {
                                "resourceVersion": str(w.store.rv),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    )
                )
            if drop:
                self._drop_connection()
                return
            deadline = time.monotonic() + timeout
            while not w.stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = watcher.queue.get(timeout=min(remaining, 5.0))
                except queue.Empty:
                    continue
                if item is None:
                    break
                self._chunk(render(*item))
            self._end_stream()
        except OSError:
            self.close_connection = True
        finally:
            w.store.unwatch(watcher)

    @staticmethod
    def _event(etype: str, obj: Obj) -> bytes:
        return json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"

    # -- logs --------------------------------------------------------------------------------
    def _logs(self, req: ResourceRequest, query: dict[str, str]) -> None:
        w = self.world
        assert req.name is not None
        with w.store.lock:
            pod = w.api.get(req.rt, req.namespace or "", req.name)
            container = w.logs.pick_container(pod, query.get("container"))
            previous = parse_bool(query.get("previous"), "previous")
            attempt = w.logs.attempt(pod, container, previous)
            lines = w.logs.lines(pod, container, attempt)
        timestamps = parse_bool(query.get("timestamps"), "timestamps")
        tail = int(query["tailLines"]) if query.get("tailLines") else None
        since = None
        if query.get("sinceSeconds"):
            since = w.clock.now() - int(query["sinceSeconds"])
        elif query.get("sinceTime"):
            since = parse_time(query["sinceTime"])
        limit = int(query["limitBytes"]) if query.get("limitBytes") else None
        data = render_logs(lines, timestamps, tail, since, limit)
        if not parse_bool(query.get("follow"), "follow") or previous:
            self._send(200, data, "text/plain")
            return
        self._start_stream("text/plain")
        try:
            if data:
                self._chunk(data)
            last = lines[-1][0] if lines else attempt.start - 1
            while not w.stopping.is_set():
                now = w.clock.now()
                if attempt.end is not None and attempt.end <= now:
                    break
                with w.tick:
                    w.tick.wait(timeout=0.5)
                with w.store.lock:
                    pod_now = w.store.get(req.rt.key, req.namespace or "", req.name)
                    if pod_now is None:
                        break
                    attempt = w.logs.attempt(pod_now, container, False)
                    new = w.logs.lines(pod_now, container, attempt, after=last)
                if new:
                    last = new[-1][0]
                    self._chunk(render_logs(new, timestamps, None, None, None))
            self._end_stream()
        except OSError:
            self.close_connection = True

    # -- admin -------------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: bytes, query: dict[str, str]) -> None:
        w = self.world
        if path == "/_sim/audit":
            if method == "GET":
                self._send(200, w.audit.entries())
            elif method == "DELETE":
                w.audit.clear()
                self._send(200, {"cleared": True})
            else:
                raise ApiError(405, "use GET or DELETE", "MethodNotAllowed")
        elif path == "/_sim/scenario" and method in ("PUT", "POST"):
            w.set_scenario(body.decode() if body else "{}")
            self._send(200, {"ok": True})
        elif path == "/_sim/faults":
            if method == "POST":
                raw = json.loads(body or b"{}")
                for item in raw if isinstance(raw, list) else [raw]:
                    w.faults.add(fault_from_dict(item))
                self._send(201, {"pending": w.faults.pending()})
            elif method == "GET":
                self._send(200, {"pending": w.faults.pending()})
            elif method == "DELETE":
                w.faults.clear()
                self._send(200, {"pending": []})
            else:
                raise ApiError(405, "use GET, POST or DELETE", "MethodNotAllowed")
        elif path == "/_sim/clock":
            if method == "POST":
                raw = json.loads(body or b"{}")
                w.advance(float(raw.get("advance_seconds", 0)))
            self._send(200, {"now": w.clock.now()})
        elif path == "/_sim/compact" and method == "POST":
            w.store.compact()
            self._send(200, {"compacted_resource_version": w.store.compacted_rv})
        else:
            raise ApiError(404, f"unknown admin endpoint {method} {path}", "NotFound")


def serve(
    world: World,
    host: str = "127.0.0.1",
    port: int = 0,
    access: AccessControl | None = None,
    tls: ssl.SSLContext | None = None,
    *,
    start_world: bool = True,
) -> tuple[KubesimServer, threading.Thread]:
    """Start the HTTP server in a background thread; returns (server, thread).

    `access`: authentication and RBAC (kubesim/rbac.py); None serves everyone everything. `tls`: serve
    HTTPS. `start_world=False` adds a listener to a world another `serve` already started.
    """
    server = KubesimServer((host, port), world, access, tls)
    if start_world:
        world.start()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="kubesim-http", daemon=True
    )
    thread.start()
    return server, thread


def shutdown(server: KubesimServer, thread: threading.Thread) -> None:
    server.world.stop()
    # serve_forever only notices the shutdown flag when select() returns: poke it with a connection
    stopper = threading.Thread(target=server.shutdown, daemon=True)
    stopper.start()
    while stopper.is_alive():
        try:
            socket.create_connection(server.server_address[:2], timeout=0.2).close()
        except OSError:
            pass
        stopper.join(0.05)
    server.server_close()
    thread.join(timeout=5)
