"""redact_body: pod env values, kubectl's last-applied copy and Secret data never reach a log or a record."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from airlock.kube.undo import undo_patch
from airlock.record import build_record
from airlock.redact import LAST_APPLIED, REDACTED, env_values, redact_body, scrub

SECRET = "s3nt1nel-Pa55word"


def _pod_spec(value: str = SECRET) -> dict[str, Any]:
    return {
        "initContainers": [
            {"name": "init", "image": "busybox", "env": [{"name": "INIT_TOKEN", "value": value}]}
        ],
        "containers": [
            {
                "name": "app",
                "image": "reg.example/app:v1",
                "env": [
                    {"name": "DB_PASSWORD", "value": value},
                    {"name": "EMPTY", "value": ""},
                    {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                ],
            }
        ],
        "ephemeralContainers": [
            {"name": "debug", "image": "busybox", "env": [{"name": "X", "value": value}]}
        ],
    }


def _deployment(value: str = SECRET) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "annotations": {"team": "payments"}},
        "spec": {
            "replicas": 3,
            "template": {"metadata": {"labels": {"app": "app"}}, "spec": _pod_spec(value)},
        },
    }


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def test_env_values_of_every_container_kind_are_redacted_and_the_rest_is_kept() -> None:
    body = _deployment()
    original = copy.deepcopy(body)

    shown = redact_body(body)

    assert SECRET not in _text(shown)
    assert body == original, "the body sent to the API server is not touched"
    spec = shown["spec"]["template"]["spec"]
    app = spec["containers"][0]
    assert app["env"][0] == {"name": "DB_PASSWORD", "value": REDACTED}
    assert app["env"][1] == {"name": "EMPTY", "value": ""}, "an empty value hides nothing"
    assert app["env"][2] == original["spec"]["template"]["spec"]["containers"][0]["env"][2], (
        "a reference stays"
    )
    assert app["image"] == "reg.example/app:v1"
    assert spec["initContainers"][0]["env"] == [{"name": "INIT_TOKEN", "value": REDACTED}]
    assert spec["ephemeralContainers"][0]["env"] == [{"name": "X", "value": REDACTED}]
    assert shown["metadata"] == original["metadata"] and shown["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": _pod_spec()}, id="pod"
        ),
        pytest.param({"kind": "Job", "spec": {"template": {"spec": _pod_spec()}}}, id="job"),
        pytest.param(
            {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": _pod_spec()}}}}},
            id="cronjob",
        ),
        pytest.param({"kind": "DeploymentList", "items": [_deployment(), _deployment()]}, id="list"),
        pytest.param(
            {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": SECRET}]}]}
                    }
                }
            },
            id="strategic-merge-patch",
        ),  # fmt: skip
        pytest.param({"plan": {"nested": [{"deep": _deployment()}]}}, id="inside-a-record"),
    ],
)
def test_every_pod_template_shape_is_found(body: dict[str, Any]) -> None:
    assert SECRET in _text(body)
    assert SECRET not in _text(redact_body(body))
    assert REDACTED in _text(redact_body(body))


def test_kubectls_rollback_patch_carries_the_replicaset_template_redacted() -> None:
    """undo.py sends the recorded revision's template back as a JSON Patch: its log copy is redacted."""
    deployment = _deployment("current-value")
    replicaset = {
        "metadata": {"annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "app", "pod-template-hash": "abc"}},
                "spec": _pod_spec(),
            }
        },
    }
    patch = undo_patch(deployment, replicaset)
    assert patch is not None and SECRET in _text(patch)

    shown = redact_body(patch)

    assert SECRET not in _text(shown)
    assert [op["path"] for op in shown] == [op["path"] for op in patch]
    assert shown[0]["value"]["spec"]["containers"][0]["env"][0] == {"name": "DB_PASSWORD", "value": REDACTED}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("/spec/template/spec/containers", [{"name": "a", "env": [{"name": "K", "value": SECRET}]}],
         [{"name": "a", "env": [{"name": "K", "value": REDACTED}]}]),
        ("/spec/template/spec/containers/0", {"name": "a", "env": [{"name": "K", "value": SECRET}]},
         {"name": "a", "env": [{"name": "K", "value": REDACTED}]}),
        ("/spec/template/spec/initContainers/0/env", [{"name": "K", "value": SECRET}],
         [{"name": "K", "value": REDACTED}]),
        ("/spec/template/spec/containers/0/env/-", {"name": "K", "value": SECRET}, {"name": "K", "value": REDACTED}),
        ("/spec/template/spec/containers/0/env/3/value", SECRET, REDACTED),
        ("/spec/template/spec/containers/0/image", "reg.example/app:v2", "reg.example/app:v2"),
        ("/spec/replicas", 4, 4),
    ],
)  # fmt: skip
def test_json_patch_operations_are_redacted_by_what_their_path_points_at(
    path: str, value: Any, expected: Any
) -> None:
    op = {"op": "add", "path": path, "value": value}
    assert redact_body([op]) == [{"op": "add", "path": path, "value": expected}]


def test_kubectl_last_applied_copy_is_redacted_and_stays_json() -> None:
    applied = json.dumps(_deployment())
    body = {"metadata": {"name": "app", "annotations": {LAST_APPLIED: applied, "team": "payments"}}}

    shown = redact_body(body)["metadata"]["annotations"]

    assert SECRET not in _text(shown) and shown["team"] == "payments"
    assert (
        json.loads(shown[LAST_APPLIED])["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
        == REDACTED
    )
    not_json = redact_body({"metadata": {"annotations": {LAST_APPLIED: f"garbled {SECRET}"}}})
    assert not_json["metadata"]["annotations"][LAST_APPLIED] == REDACTED
    replaced = redact_body(
        [{"op": "replace", "path": "/metadata/annotations", "value": {LAST_APPLIED: applied}}]
    )
    assert SECRET not in _text(replaced)
    one = redact_body(
        [{"op": "add", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
          "value": applied}]
    )  # fmt: skip
    assert SECRET not in _text(one) and "DB_PASSWORD" in _text(one)


def test_secret_data_is_redacted() -> None:
    secret = {
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"password": "czNjcjN0"},
        "stringData": {"u": SECRET},
    }
    shown = redact_body(secret)
    assert shown["data"] == {"password": REDACTED} and shown["stringData"] == {"u": REDACTED}
    assert shown["metadata"] == {"name": "db"}
    assert redact_body({"kind": "ConfigMap", "data": {"k": "v"}})["data"] == {"k": "v"}, (
        "only a Secret's data"
    )


def test_the_record_keeps_no_env_value_of_a_body_a_task_returned() -> None:
    record = build_record(
        run={"service": "app", "version": "v2", "run_id": "r1", "start": datetime(2026, 1, 1, tzinfo=UTC)},
        values={"created": {"deployment": _deployment()}, "rollback": {"healthy": True, "evidence": {
            "objects": [_deployment()]}}},
        task_states={"production.step": "success"},
        end=datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
    )  # fmt: skip
    assert SECRET not in _text(record)
    assert record["extra"]["created"]["deployment"]["spec"]["template"]["spec"]["containers"][0]["env"][
        0
    ] == {
        "name": "DB_PASSWORD",
        "value": REDACTED,
    }


def test_env_values_are_the_literal_values_long_enough_to_mask() -> None:
    pod = {"kind": "Pod", "spec": _pod_spec()}
    pod["spec"]["containers"][0]["env"].append({"name": "SHORT", "value": "true"})
    assert env_values(pod) == {SECRET}
    assert env_values([_deployment("first-value"), {"items": [_deployment("second-value")]}]) == {
        "first-value",
        "second-value",
    }


def test_scrub_replaces_every_value_longest_first() -> None:
    text = f"login {SECRET} failed; retry with {SECRET}-old"
    assert scrub(text, {SECRET, f"{SECRET}-old"}) == f"login {REDACTED} failed; retry with {REDACTED}"
    assert scrub("nothing to hide", set()) == "nothing to hide"
