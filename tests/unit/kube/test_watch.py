"""WatchSession: the one list/watch/resume/relist state machine behind the sync wait and the triggers."""

from __future__ import annotations

import pytest

from airlock.kube.api import KubeError
from airlock.kube.reads import ListObjects, WatchObjects
from airlock.kube.wait import judge_rollout, rollout_result
from airlock.kube.watch import Pause, WatchOutcome, WatchSession


def dep(rv: str, *, updated: int = 3, available: int = 3, replicas: int = 3) -> dict:
    return {
        "metadata": {"name": "web", "generation": 2, "resourceVersion": rv},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 2,
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


def listed(rv: str, *objs: dict) -> dict:
    return {"kind": "DeploymentList", "metadata": {"resourceVersion": rv}, "items": list(objs)}


def event(etype: str, obj: dict) -> dict:
    return {"type": etype, "object": obj}


GONE = event(
    "ERROR", {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}
)


def session(timeout: float = 60, now: float = 0.0, **kw) -> WatchSession:
    return WatchSession("deployments", "prod", "web", judge_rollout, timeout, now=now, **kw)


def test_list_then_one_watch_until_done():
    s = session()
    step = s.next_step(0.0)
    assert step == ListObjects("deployments", "prod", field_selector="metadata.name=web")
    s.on_list(listed("10", dep("9", updated=1)))
    step = s.next_step(0.1)
    assert step == WatchObjects(
        "deployments", "prod", resource_version="10", timeout_seconds=60, field_selector="metadata.name=web"
    )
    assert s.on_event(event("MODIFIED", dep("11", updated=3, available=2)), 1.0) is False
    assert s.on_event(event("MODIFIED", dep("12")), 2.0) is True, "finished: stop reading the stream"
    assert s.on_stream_end(2.0) is None
    outcome = s.next_step(2.0)
    assert outcome == WatchOutcome(True, False, 2, s.last)
    assert outcome.last["done"] and outcome.last["message"] == 'deployment "web" successfully rolled out'


def test_done_at_the_list_needs_no_watch():
    s = session()
    s.next_step(0.0)
    s.on_list(listed("10", dep("9")))
    outcome = s.next_step(0.0)
    assert isinstance(outcome, WatchOutcome) and outcome.finished and outcome.requests == 1


def test_410_error_event_relists_then_watches_from_the_new_version():
    s = session()
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    assert isinstance(s.next_step(0.0), WatchObjects)
    assert s.on_event(GONE, 0.5) is True
    assert "listing it again" in s.on_stream_end(0.5)
    assert s.next_step(0.5) == ListObjects("deployments", "prod", field_selector="metadata.name=web")
    s.on_list(listed("50", dep("49", updated=2)))
    step = s.next_step(0.6)
    assert isinstance(step, WatchObjects) and step.resource_version == "50"
    s.on_event(event("MODIFIED", dep("51")), 1.0)
    s.on_stream_end(1.0)
    outcome = s.next_step(1.0)
    assert outcome.finished and outcome.requests == 4, "list + watch answered 410 + relist + watch"


def test_410_http_status_on_the_watch_request_relists():
    s = session()
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    s.next_step(0.0)
    note = s.on_stream_end(0.1, KubeError(410, "Expired", "too old resource version"))
    assert "410 Gone" in note
    # the stream ended at once without an event: pause before the next request, then relist
    assert s.next_step(0.1) == Pause(1.0)
    assert isinstance(s.next_step(1.1), ListObjects)


def test_dropped_stream_resumes_from_the_last_resource_version_seen():
    s = session()
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    s.next_step(0.0)
    s.on_event(event("MODIFIED", dep("17", updated=2)), 2.0)
    note = s.on_stream_end(2.0, ConnectionResetError("peer closed"))
    assert "resuming from resourceVersion 17" in note
    assert s.next_step(2.0) == Pause(0.2)
    step = s.next_step(2.2)
    assert isinstance(step, WatchObjects) and step.resource_version == "17", "resumed, not relisted"
    assert step.timeout_seconds == 58, "the server-side timeout is the time left"
    assert s.requests == 3


def test_bookmark_moves_the_resource_version_without_judging():
    progress: list[str] = []
    s = session(on_progress=progress.append)
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    s.next_step(0.0)
    assert (
        s.on_event(event("BOOKMARK", {"kind": "Deployment", "metadata": {"resourceVersion": "99"}}), 5.0)
        is False
    )
    assert s.resource_version == "99"
    assert s.last["message"].endswith("1 out of 3 new replicas have been updated...")
    assert len(progress) == 1, "a bookmark reports no progress"
    s.on_stream_end(30.0)  # the server's timeout ended the stream normally
    step = s.next_step(30.0)
    assert isinstance(step, WatchObjects) and step.resource_version == "99"


def test_progress_is_reported_only_when_the_message_changes():
    progress: list[str] = []
    s = session(on_progress=progress.append)
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    s.next_step(0.0)
    s.on_event(event("MODIFIED", dep("11", updated=1)), 1.0)
    s.on_event(event("MODIFIED", dep("12", updated=2)), 2.0)
    assert [m.split(": ", 1)[1] for m in progress] == [
        "1 out of 3 new replicas have been updated...",
        "2 out of 3 new replicas have been updated...",
    ]


def test_times_out_when_the_deadline_passes_during_a_stream():
    s = session(timeout=10)
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    s.next_step(0.0)
    assert s.on_event(event("MODIFIED", dep("11", updated=2)), 10.0) is True, "deadline: stop reading"
    s.on_stream_end(10.0)
    outcome = s.next_step(10.0)
    assert outcome.timed_out and not outcome.finished and outcome.requests == 2
    result = rollout_result(outcome, "web", 10)
    assert result.timed_out and result.failed and not result.done
    assert result.message == (
        'timed out after 10s waiting for deployment "web": Waiting for deployment "web" '
        "rollout to finish: 2 out of 3 new replicas have been updated..."
    )


def test_no_watch_is_opened_with_less_than_half_a_second_left():
    s = session(timeout=10)
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    assert s.next_step(9.6) == WatchOutcome(False, True, 1, s.last)


def test_a_pause_never_outlasts_the_deadline():
    s = session(timeout=10)
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    s.next_step(9.0)
    s.on_stream_end(9.5, OSError("reset"))  # no event, ended at once: 0.2 + 1.0 s wanted
    assert s.next_step(9.5) == Pause(0.5)
    assert s.next_step(10.0).timed_out


def test_an_empty_stream_that_closes_at_once_is_not_hammered():
    s = session()
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    s.next_step(1.0)
    assert s.on_stream_end(1.2) is None
    assert s.next_step(1.2) == Pause(1.0)
    s.next_step(2.2)
    assert s.on_stream_end(20.0) is None
    assert isinstance(s.next_step(20.0), WatchObjects), "a stream that lasted is resumed at once"


def test_a_non_410_error_event_resumes_instead_of_relisting():
    s = session()
    s.next_step(0.0)
    s.on_list(listed("10", dep("9", updated=1)))
    s.next_step(0.0)
    assert s.on_event(event("ERROR", {"code": 500, "reason": "InternalError", "message": "etcd hiccup"}), 3.0)
    note = s.on_stream_end(3.0)
    assert "etcd hiccup" in note and "resuming from resourceVersion 10" in note
    assert s.next_step(3.0) == Pause(0.2)
    step = s.next_step(3.2)
    assert isinstance(step, WatchObjects) and step.resource_version == "10"


@pytest.mark.parametrize("how", ["missing", "deleted"])
def test_a_missing_or_deleted_object_ends_the_wait_as_a_failure(how):
    s = session()
    s.next_step(0.0)
    if how == "missing":
        s.on_list(listed("10"))
        message = 'deployment "web" not found in namespace prod'
    else:
        s.on_list(listed("10", dep("9", updated=1)))
        s.next_step(0.0)
        assert s.on_event(event("DELETED", dep("12", updated=1)), 1.0) is True
        s.on_stream_end(1.0)
        message = 'deployment "web" was deleted'
    outcome = s.next_step(1.0)
    assert outcome.finished and not outcome.timed_out and outcome.last[how]
    result = rollout_result(outcome, "web", 60)
    assert (result.done, result.failed, result.message) == (False, True, message)
