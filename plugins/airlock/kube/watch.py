"""Following one object until a judge says it is finished: list, watch, resume, relist - as pure state.

This is what `kubectl rollout status` does, and what the sync wait (`wait.py`) and the triggers
(`async_watch.py`) both need, so the decisions live here once and the transports only carry requests:

    session = WatchSession("deployments", "prod", "web", judge_rollout, timeout=600, now=clock())
    while not isinstance(step := session.next_step(clock()), WatchOutcome):
        ListObjects  -> send it, then session.on_list(answer)
        WatchObjects -> open the stream, session.on_event(event, clock()) per event until it says stop,
                        then session.on_stream_end(clock(), error-or-None) once
        Pause        -> sleep step.seconds

One list gives the object and a resourceVersion; one watch (`fieldSelector=metadata.name=<name>`,
`timeoutSeconds` = the time left) follows it from there. A stream that ends early (server timeout,
dropped connection) is resumed from the last resourceVersion seen (BOOKMARK events move it too); 410
Gone/Expired, as an ERROR event or as the HTTP status, means that version is compacted away, so the
object is listed again. So the number of requests does not grow with how long the object takes (2
when nothing drops). The session never reads a clock or draws a random number: callers pass `now`
and `rand`, which keeps it testable.

Reconnects follow the retry policy (retry.py): after a broken stream the pause is the policy's
backoff with full jitter, growing with each consecutive break and reset by a stream that delivered
events; a Retry-After in the error is honoured; every pause is cut at the session's deadline. A
watch the server refuses for good (403, 404, 401...: not transient, not 410) ends the wait with that
error at once: waiting until the deadline would only hide it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airlock.kube.reads import ListObjects, WatchObjects
from airlock.kube.retry import Failure, RetryPolicy, failure_of

Obj = dict[str, Any]
# judge(object) -> (finished, payload); payload["message"] is what a person reads about the object.
Judge = Callable[[Obj], tuple[bool, Obj]]

# A watch with less time left than this is not worth opening: the server-side timeout would end it
# just before the deadline anyway.
MIN_WATCH_SECONDS = 0.5
# After a stream broke with an error: backoff from 0.2 s, doubling per consecutive break up to 5 s
# (with full jitter when the caller passes `rand`); bounded by the session's deadline, not by a count.
WATCH_RETRY = RetryPolicy(base=0.2, cap=5.0)
# A server that closes streams at once without an event must not be hammered with new watches.
EMPTY_STREAM_SECONDS = 1.0
PAUSE_AFTER_EMPTY_STREAM = 1.0


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class WatchOutcome:
    finished: bool  # the judge (or a missing/deleted object) ended the wait
    timed_out: bool
    requests: int  # list + watch requests made, resumes and relists included
    last: Obj | None  # the last payload: the judge's, or {"missing"/"deleted": True, "failed": True, ...}


Step = ListObjects | WatchObjects | Pause | WatchOutcome


def is_gone(status: Obj) -> bool:
    """A Status (an ERROR event's object) saying the resourceVersion is too old to watch from."""
    return status.get("code") in (410, "410") or status.get("reason") in ("Expired", "Gone")


class WatchSession:
    """The state of one wait for `resource/name` in `namespace`; see the module docstring for the protocol."""

    def __init__(
        self,
        resource: str,
        namespace: str,
        name: str,
        judge: Judge,
        timeout: float,
        *,
        now: float,
        on_progress: Callable[[str], None] | None = None,
        retry: RetryPolicy = WATCH_RETRY,
        rand: Callable[[], float] | None = None,
    ) -> None:
        """`rand` draws the backoff's jitter (the drivers pass `random.random`); without it every pause
        is the backoff's upper bound, which is what a test reads."""
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.judge = judge
        self.timeout = timeout
        self.deadline = now + timeout
        self.on_progress = on_progress
        self.retry = retry
        self.rand = rand or (lambda: 1.0)
        self.broken = 0  # consecutive streams that broke with an error (reset by one that delivered)
        self.resource_version = ""
        self.need_list = True
        self.requests = 0
        self.last: Obj | None = None
        self.finished = False
        self._pause = 0.0
        self._stream_started = now
        self._stream_events = 0
        self._stream_delivered = 0  # events other than ERROR: the server was serving this stream
        self._stream_error: str | None = None

    @property
    def selector(self) -> str:
        return f"metadata.name={self.name}"

    @property
    def kind(self) -> str:
        # "deployments" -> "deployment": the wording kubectl uses in its messages
        return self.resource[:-1] if self.resource.endswith("s") else self.resource

    # -- what to do next ---------------------------------------------------------------------------
    def next_step(self, now: float) -> Step:
        if self.finished:
            return self._outcome(timed_out=False)
        if self._pause > 0:
            seconds, self._pause = min(self._pause, max(self.deadline - now, 0.0)), 0.0
            if seconds > 0:
                return Pause(seconds)
        if self.need_list:
            # Listed even at the deadline: a 410 just before it must still end with a judged status.
            self.requests += 1
            return ListObjects(self.resource, self.namespace, field_selector=self.selector)
        remaining = self.deadline - now
        if remaining <= MIN_WATCH_SECONDS:
            return self._outcome(timed_out=True)
        self.requests += 1
        self._stream_started, self._stream_events, self._stream_error = now, 0, None
        self._stream_delivered = 0
        return WatchObjects(
            self.resource,
            self.namespace,
            resource_version=self.resource_version,
            timeout_seconds=max(1, math.ceil(remaining)),
            field_selector=self.selector,
        )

    # -- answers -----------------------------------------------------------------------------------
    def on_list(self, listed: Obj) -> None:
        self.need_list = False
        self.resource_version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
        found = listed.get("items") or []
        if not found:
            message = f'{self.kind} "{self.name}" not found in namespace {self.namespace}'
            self._finish({"missing": True, "failed": True, "done": False, "message": message})
            return
        self._judge(found[0])

    def on_event(self, event: Obj, now: float) -> bool:
        """Consume one watch event; True when the transport should stop reading this stream."""
        self._stream_events += 1
        etype, obj = event.get("type"), event.get("object") or {}
        if etype == "ERROR":
            if is_gone(obj):
                self.need_list = True
            else:
                self._stream_error = (
                    f"{obj.get('code', '')} {obj.get('reason', '')}: {obj.get('message', obj)}"
                )
            return True
        self._stream_delivered += 1
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            self.resource_version = str(rv)
        if etype == "DELETED":
            message = f'{self.kind} "{self.name}" was deleted'
            self._finish({"deleted": True, "failed": True, "done": False, "message": message})
        elif etype != "BOOKMARK":
            self._judge(obj)
        return self.finished or now >= self.deadline

    def on_stream_end(self, now: float, error: BaseException | None = None) -> str | None:
        """The watch stream ended (normally, because on_event said stop, or with `error`).

        Returns a sentence for the log when the stream broke, saying what happens next. Re-raises
        `error` when it is an HTTP answer that asking again cannot change (see the module docstring).
        """
        what = f"watch of {self.kind} {self.name}"
        failure = failure_of(error) if error is not None else None
        status = getattr(error, "status", None)
        if error is not None and status in (410, "410"):
            self.need_list = True
            note: str | None = f"{what} answered 410 Gone ({error}); listing it again"
        elif error is not None and failure is not None and not failure.transient:
            raise error
        elif error is not None or self._stream_error is not None:
            if self._stream_delivered:
                self.broken = 0
            self.broken += 1
            pause = self.retry.delay(failure or Failure(None, "stream broke", ""), self.broken, self.rand)
            self._pause += pause
            left = max(self.deadline - now, 0.0)
            note = (
                f"{what} ended ({error if error is not None else self._stream_error}); "
                f"resuming from resourceVersion {self.resource_version} in {min(pause, left):.1f} s "
                f"(reconnect {self.broken}; {left:.0f} s left of the {self.timeout:g} s wait)"
            )
        elif self.need_list:
            note = f"{what}: resourceVersion {self.resource_version} expired (410); listing it again"
        else:
            note = None
        if self._stream_events == 0 and now - self._stream_started < EMPTY_STREAM_SECONDS:
            self._pause += PAUSE_AFTER_EMPTY_STREAM
        return note

    # -- internals ---------------------------------------------------------------------------------
    def _judge(self, obj: Obj) -> None:
        finished, payload = self.judge(obj)
        self._record(payload)
        self.finished = finished

    def _finish(self, payload: Obj) -> None:
        self._record(payload)
        self.finished = True

    def _record(self, payload: Obj) -> None:
        message = payload.get("message")
        if self.on_progress is not None and message and message != (self.last or {}).get("message"):
            self.on_progress(str(message))
        self.last = payload

    def _outcome(self, *, timed_out: bool) -> WatchOutcome:
        return WatchOutcome(self.finished, timed_out, self.requests, self.last)
