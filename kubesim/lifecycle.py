"""Pure timelines of simulated containers: what a container looks like at a given time.

Everything is a function of the pod's start time, the image profile and `now`, so advancing the
clock by a day costs the same as advancing it by a second.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from kubesim.clock import rfc3339
from kubesim.scenario import ImageProfile

PULL_ERROR_SECONDS = 2.0  # ErrImagePull is shown this long before ImagePullBackOff
BACKOFF_START, BACKOFF_MAX = 10.0, 300.0  # kubelet crash-loop back-off: 10s doubling to 5m


def image_id(image: str) -> str:
    repo = image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def container_id(pod_uid: str, name: str, attempt: int) -> str:
    return "containerd://" + hashlib.sha256(f"{pod_uid}/{name}/{attempt}".encode()).hexdigest()


def image_tag(image: str) -> str:
    """The version label of traffic metrics: the tag (or digest) of the image reference."""
    if "@" in image:
        return image.split("@", 1)[1][:19]
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


@dataclass
class Attempt:
    start: float
    end: float | None  # None while running without end
    exit_code: int | None = None


@dataclass
class ContainerView:
    """A container at time `now`."""

    status: dict[str, Any]
    ready: bool
    terminated_exit: int | None  # exit code if the container finished for good
    next_change: float | None  # when this view changes next (for the kubelet timer)
    attempts: list[Attempt] = field(default_factory=list)
    waiting_reason: str | None = None
    # False when the next change is cosmetic (a crash-loop restart): `advance()` need not stop there
    significant: bool = True


def crash_attempts(t0: float, run: float, now: float) -> tuple[list[Attempt], float | None]:
    """Attempts of a crash-looping container up to `now`, and the next transition time."""
    attempts: list[Attempt] = []
    start, k = t0, 0
    while start <= now:
        end = start + run
        attempts.append(Attempt(start, end, 1))
        delay = min(BACKOFF_START * (2**k), BACKOFF_MAX)
        if end > now:
            return attempts, end
        nxt = end + delay
        if nxt > now:
            return attempts, nxt
        start, k = nxt, k + 1
        if len(attempts) > 100000:  # safety net; ~1 year of restarts at the 5 minute cap
            break
    return attempts, start


def _terminated(a: Attempt, cid: str) -> dict[str, Any]:
    return {
        "terminated": {
            "exitCode": a.exit_code,
            "reason": "Completed" if a.exit_code == 0 else "Error",
            "startedAt": rfc3339(a.start),
            "finishedAt": rfc3339(a.end or a.start),
            "containerID": cid,
        }
    }


def container_view(
    pod: dict[str, Any],
    c: dict[str, Any],
    prof: ImageProfile,
    t0: float,
    now: float,
    runs_to_completion: bool,
) -> ContainerView:
    name, image = c["name"], c.get("image", "")
    uid = pod["metadata"]["uid"]
    base = {"name": name, "image": image, "imageID": image_id(image), "restartCount": 0, "lastState": {}}
    if prof.fail in ("ImagePullBackOff", "ErrImagePull"):
        reason = "ErrImagePull" if now < t0 + PULL_ERROR_SECONDS else "ImagePullBackOff"
        msg = (
            f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": '
            f"{image}: not found"
        )
        if reason == "ImagePullBackOff":
            msg = f'Back-off pulling image "{image}": ErrImagePull: {msg}'
        st = dict(
            base,
            imageID="",
            ready=False,
            started=False,
            state={"waiting": {"reason": reason, "message": msg}},
        )
        return ContainerView(
            st,
            False,
            None,
            t0 + PULL_ERROR_SECONDS if now < t0 + PULL_ERROR_SECONDS else None,
            waiting_reason=reason,
        )

    if prof.fail == "CrashLoopBackOff":
        if runs_to_completion:
            # restartPolicy Never: one attempt that fails
            end = t0 + prof.crash_after_seconds
            if now < end:
                st = dict(
                    base,
                    ready=False,
                    started=True,
                    containerID=container_id(uid, name, 0),
                    state={"running": {"startedAt": rfc3339(t0)}},
                )
                return ContainerView(st, False, None, end, [Attempt(t0, None)])
            a = Attempt(t0, end, 1)
            st = dict(
                base,
                ready=False,
                started=False,
                containerID=container_id(uid, name, 0),
                state=_terminated(a, container_id(uid, name, 0)),
            )
            return ContainerView(st, False, 1, None, [a])
        attempts, nxt = crash_attempts(t0, prof.crash_after_seconds, now)
        cur = attempts[-1]
        k = len(attempts) - 1
        cid = container_id(uid, name, k)
        if cur.end is not None and cur.end > now:  # running attempt k
            last = {} if k == 0 else _terminated(attempts[k - 1], container_id(uid, name, k - 1))
            st = dict(
                base,
                restartCount=k,
                ready=False,
                started=True,
                containerID=cid,
                lastState=last,
                state={"running": {"startedAt": rfc3339(cur.start)}},
            )
            view_attempts = attempts[:-1] + [Attempt(cur.start, None)]
            return ContainerView(st, False, None, nxt, view_attempts, significant=False)
        delay = int(min(BACKOFF_START * (2**k), BACKOFF_MAX))
        msg = (
            (f"back-off {delay // 60}m{delay % 60}s" if delay >= 60 else f"back-off {delay}s")
            + f" restarting failed container={name} pod={pod['metadata']['name']}_"
            f"{pod['metadata'].get('namespace', '')}({uid})"
        )
        st = dict(
            base,
            restartCount=k,
            ready=False,
            started=False,
            containerID=cid,
            lastState=_terminated(cur, cid),
            state={"waiting": {"reason": "CrashLoopBackOff", "message": msg}},
        )
        return ContainerView(
            st, False, None, nxt, attempts, waiting_reason="CrashLoopBackOff", significant=False
        )

    cid = container_id(uid, name, 0)
    if runs_to_completion:
        end = t0 + prof.complete_after_seconds
        if now < end:
            st = dict(
                base, ready=True, started=True, containerID=cid, state={"running": {"startedAt": rfc3339(t0)}}
            )
            return ContainerView(st, True, None, end, [Attempt(t0, None)])
        a = Attempt(t0, end, prof.exit_code)
        st = dict(base, ready=False, started=False, containerID=cid, state=_terminated(a, cid))
        return ContainerView(st, False, prof.exit_code, None, [a])

    ready_at = t0 + prof.ready_after_seconds
    ready = now >= ready_at
    st = dict(base, ready=ready, started=True, containerID=cid, state={"running": {"startedAt": rfc3339(t0)}})
    return ContainerView(st, ready, None, None if ready else ready_at, [Attempt(t0, None)])


def ready_time(prof: ImageProfile, t0: float) -> float:
    return t0 + prof.ready_after_seconds
