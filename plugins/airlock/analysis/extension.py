"""Extend or conclude: what a metrics gate does when its observation ends without enough traffic.

At 1 req/s a 15-minute step can end with a track short of ``min_requests``; concluding "inconclusive"
then rolls a healthy release back. Instead the gate keeps observing, up to ``max_extension`` beyond its
duration, and only when that is used up does ``on_inconclusive`` apply. It concludes early when the
observed rate cannot bring a track to ``min_requests`` within what is left of the extension: waiting
would only delay the same outcome.

Pure: the sync sensor and the async trigger reach this through GateState, so the rule exists once.
"""

from __future__ import annotations

from dataclasses import dataclass

from airlock.durations import format_duration


@dataclass(frozen=True)
class TrackCount:
    """Requests one track has at this poll."""

    label: str  # canary | baseline
    requests: float
    # False for a fixed window (validation/staging compare with the previous version's traffic before the
    # deployment): waiting adds nothing to it.
    grows: bool = True


@dataclass(frozen=True)
class Extension:
    extend: bool  # True: keep observing; False: conclude inconclusive now
    reason: str  # the sentence for the log and the verdict


def _shortfall(tracks: list[TrackCount], min_requests: int) -> str:
    """'canary 120 of 200 requests (80 more needed)', joined with 'and' across short tracks."""
    return " and ".join(
        f"{t.label} {t.requests:.0f} of {min_requests} requests ({min_requests - t.requests:.0f} more needed)"
        for t in tracks
    )


def extend_or_conclude(
    tracks: list[TrackCount],
    min_requests: int,
    elapsed_s: float,
    duration_s: float,
    max_extension_s: float,
) -> Extension:
    """Decide at a poll where the duration is over (elapsed_s >= duration_s) and some track is short.

    A track's rate is its requests over the time it has been counted (its counts start with the
    observation), so "reachable" means requests / elapsed_s * (duration_s + max_extension_s) >=
    min_requests. It is a point estimate: at low traffic the count is noisy, and an estimate that
    falls just short concludes rather than waiting on luck.
    """
    short = [t for t in tracks if t.requests < min_requests]
    after = format_duration(round(elapsed_s))
    head = f"inconclusive after {after}: {_shortfall(short, min_requests)}"
    if not short:  # defensive: nothing is short, so there is nothing to wait for
        return Extension(False, f"inconclusive after {after}")
    end_s = duration_s + max_extension_s
    used_s = max(elapsed_s - duration_s, 0.0)
    if max_extension_s <= 0:
        return Extension(False, f"{head}; max_extension is off")
    if elapsed_s >= end_s:
        return Extension(
            False,
            f"{head}, including the whole {format_duration(round(max_extension_s))} extension "
            f"(max_extension)",
        )
    fixed = [t for t in short if not t.grows]
    if fixed:
        names = " and ".join(t.label for t in fixed)
        return Extension(
            False,
            f"{head}; concluding without extending: the {names} is a fixed window before the deployment, "
            f"waiting adds no requests to it",
        )
    left_s = end_s - elapsed_s
    unreachable = []
    for t in short:
        projected = t.requests / elapsed_s * end_s if elapsed_s > 0 else 0.0
        if projected < min_requests:
            rate = t.requests / elapsed_s if elapsed_s > 0 else 0.0
            unreachable.append(
                f"{t.label} at {rate:.3g} req/s would reach about {projected:.0f} by {format_duration(round(end_s))}"
            )
    if unreachable:
        so_far = f", {format_duration(round(used_s))} into the extension" if used_s > 0 else ""
        return Extension(
            False,
            f"{head}{so_far}; concluding early: {'; '.join(unreachable)}, short of {min_requests} "
            f"within max_extension {format_duration(round(max_extension_s))}",
        )
    return Extension(True, f"{head}; extending the observation by up to {format_duration(round(left_s))}")
