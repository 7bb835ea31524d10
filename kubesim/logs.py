"""Scripted container logs: a start line, then the image's `log_lines` cycled every
`log_interval_seconds` while the container runs, and an exit line for failed attempts.

Lines are generated on demand from the container's timeline, so logs cost nothing until read.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from kubesim.clock import rfc3339_nano
from kubesim.errors import bad_request
from kubesim.lifecycle import Attempt
from kubesim.objects import Obj, name_of

if TYPE_CHECKING:
    from kubesim.world import World

MAX_LINES = 10000  # like kubelet log rotation: only the most recent lines are kept


def _attempt_lines(
    image: str, lines: tuple[str, ...], interval: float, a: Attempt, upto: float, after: float | None = None
) -> list[tuple[float, str]]:
    end = min(a.end, upto) if a.end is not None else upto
    out: list[tuple[float, str]] = []
    if a.start <= end and (after is None or a.start > after):
        out.append((a.start, f"kubesim: starting container image {image}"))
    if lines and interval > 0:
        n = int(math.floor((end - a.start) / interval + 1e-9))
        first = 1
        if after is not None:
            first = max(first, int(math.floor((after - a.start) / interval + 1e-9)) + 1)
        first = max(first, n - MAX_LINES + 1)
        for i in range(first, n + 1):
            out.append((a.start + i * interval, lines[(i - 1) % len(lines)]))
    if a.end is not None and a.end <= upto and (after is None or a.end > after) and a.exit_code:
        out.append((a.end, f"kubesim: process exited with code {a.exit_code}"))
    return out[-MAX_LINES:]


class LogSource:
    def __init__(self, world: World) -> None:
        self.world = world

    def pick_container(self, pod: Obj, container: str | None) -> dict:
        containers = pod["spec"].get("containers") or []
        if container:
            for c in containers:
                if c["name"] == container:
                    return c
            raise bad_request(f"container {container} is not valid for pod {name_of(pod)}")
        if len(containers) == 1:
            return containers[0]
        names = " ".join(c["name"] for c in containers)
        raise bad_request(
            f"a container name must be specified for pod {name_of(pod)}, choose one of: [{names}]"
        )

    def attempt(self, pod: Obj, container: dict, previous: bool) -> Attempt:
        now = self.world.clock.now()
        if not pod["spec"].get("nodeName"):
            raise bad_request(
                f'container "{container["name"]}" in pod "{name_of(pod)}" is waiting to start: '
                "ContainerCreating"
            )
        views = self.world.kubelet.views(pod, now)
        idx = [c["name"] for c in pod["spec"]["containers"]].index(container["name"])
        view = views[idx]
        if not view.attempts:
            reason = view.waiting_reason or "ContainerCreating"
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                reason = "trying and failing to pull image"
            raise bad_request(
                f'container "{container["name"]}" in pod "{name_of(pod)}" is waiting to start: {reason}'
            )
        if previous:
            if len(view.attempts) < 2:
                raise bad_request(
                    f'previous terminated container "{container["name"]}" in pod "{name_of(pod)}" not found'
                )
            return view.attempts[-2]
        return view.attempts[-1]

    def lines(
        self, pod: Obj, container: dict, a: Attempt, after: float | None = None, upto: float | None = None
    ) -> list[tuple[float, str]]:
        prof = self.world.profile(container.get("image", ""))
        upto = self.world.clock.now() if upto is None else upto
        return _attempt_lines(
            container.get("image", ""), prof.log_lines, prof.log_interval_seconds, a, upto, after
        )


def render(
    lines: list[tuple[float, str]],
    timestamps: bool,
    tail: int | None,
    since: float | None,
    limit_bytes: int | None,
) -> bytes:
    if since is not None:
        lines = [x for x in lines if x[0] >= since]
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    text = "".join((f"{rfc3339_nano(ts)} {line}\n" if timestamps else f"{line}\n") for ts, line in lines)
    data = text.encode()
    if limit_bytes is not None:
        data = data[:limit_bytes]
    return data
