"""Patch flavours of the apiserver: RFC 6902, RFC 7386 and strategic merge patch."""

import pytest

from kubesim.errors import ApiError
from kubesim.patch import apply_patch, json_patch, merge_patch, strategic_merge

POD_SPEC = {
    "containers": [
        {
            "name": "web",
            "image": "web:1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        },
        {"name": "sidecar", "image": "proxy:1"},
    ],
    "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
}


def test_json_patch_ops():
    doc = {"a": {"b": [1, 2]}, "c": 1}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": 2},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e"},
            {"op": "test", "path": "/e", "value": 2},
            {"op": "add", "path": "/x~1y", "value": True},
        ],
    )
    assert out == {"a": {"b": [2, 3]}, "c": 2, "e": 2, "x/y": True}
    assert doc == {"a": {"b": [1, 2]}, "c": 1}  # input untouched


def test_json_patch_errors():
    with pytest.raises(ApiError) as e:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert e.value.code == 422
    with pytest.raises(ApiError) as e:
        json_patch({"a": 1}, [{"op": "replace", "path": "/missing", "value": 2}])
    assert e.value.code == 422
    with pytest.raises(
        ApiError
    ) as e:  # the python client sends dict bodies as json-patch: apiserver says 400
        apply_patch({}, "application/json-patch+json", {"spec": {}})
    assert e.value.code == 400


def test_merge_patch_rfc7386():
    doc = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    assert merge_patch(doc, {"a": "z", "c": {"f": None}, "l": [3]}) == {"a": "z", "c": {"d": "e"}, "l": [3]}


def test_strategic_merge_keeps_sidecar_and_merges_by_name():
    patch = {"containers": [{"name": "web", "image": "web:2", "env": [{"name": "B", "value": "3"}]}]}
    out = strategic_merge(POD_SPEC, patch)
    assert [c["name"] for c in out["containers"]] == ["web", "sidecar"]
    assert out["containers"][0]["image"] == "web:2"
    assert out["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert out["containers"][0]["ports"] == POD_SPEC["containers"][0]["ports"]
    assert out["containers"][1] == {"name": "sidecar", "image": "proxy:1"}


def test_strategic_merge_kubectl_set_image_shape():
    # exactly what `kubectl set image deploy/web web=web:2` sends
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                    "containers": [{"image": "web:2", "name": "web"}],
                }
            }
        }
    }
    doc = {"spec": {"template": {"spec": POD_SPEC}}}
    out = apply_patch(doc, "application/strategic-merge-patch+json", patch)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "web:2"), ("sidecar", "proxy:1")]


def test_strategic_merge_directives():
    out = strategic_merge(POD_SPEC, {"containers": [{"name": "sidecar", "$patch": "delete"}]})
    assert [c["name"] for c in out["containers"]] == ["web"]
    out = strategic_merge(POD_SPEC, {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]})
    assert out["containers"] == [{"name": "only", "image": "x"}]
    out = strategic_merge({"m": {"a": 1, "b": 2}}, {"m": {"$patch": "replace", "c": 3}})
    assert out == {"m": {"c": 3}}
    out = strategic_merge({"m": {"a": 1}}, {"m": {"$patch": "delete"}})
    assert out == {}
    out = strategic_merge(
        {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
        {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}},
    )
    assert out == {"strategy": {"type": "Recreate"}}
    out = strategic_merge(
        {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    )
    assert out == {"metadata": {"finalizers": ["b"]}}
    out = strategic_merge(
        {"spec": {"ports": [{"port": 80, "name": "http"}]}},
        {"spec": {"ports": [{"port": 443, "name": "https"}]}},
    )
    assert [p["port"] for p in out["spec"]["ports"]] == [80, 443]
    out = strategic_merge(
        {"spec": {"selector": {"app": "web", "track": "stable"}}}, {"spec": {"selector": {"track": "canary"}}}
    )
    assert out["spec"]["selector"] == {"app": "web", "track": "canary"}


def test_unknown_patch_type_is_415():
    with pytest.raises(ApiError) as e:
        apply_patch({}, "application/apply-patch+yaml", {})
    assert e.value.code == 415
