"""kubesim's `watch_only` fault (added for the fault matrix): it strikes watches of a path and leaves its
lists and reads alone, so a 410 Gone reaches only the watch a deferred rollout wait opens."""

from __future__ import annotations

import json

import pytest
import requests

from kubesim.faults import fault_from_dict

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def _fault(kubesim, **raw) -> None:
    requests.post(f"{kubesim.url}/_sim/faults", json=raw, timeout=5).raise_for_status()


def test_watch_only_410_leaves_the_list_alone(kubesim):
    _fault(kubesim, path=DEPLOYMENTS, status=410, watch_only=True, count=1)
    listed = requests.get(f"{kubesim.url}{DEPLOYMENTS}", timeout=5)
    assert listed.status_code == 200  # the list is not a watch: the fault is still pending
    rv = listed.json()["metadata"]["resourceVersion"]
    watched = requests.get(
        f"{kubesim.url}{DEPLOYMENTS}",
        params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"},
        timeout=5,
    )
    assert watched.status_code == 410
    assert watched.json()["reason"] == "Expired"
    again = requests.get(
        f"{kubesim.url}{DEPLOYMENTS}",
        params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"},
        timeout=5,
    )
    assert again.status_code == 200  # count 1: used up
    assert requests.get(f"{kubesim.url}/_sim/faults", timeout=5).json()["pending"] == []


def test_watch_only_drop_and_audit_description(kubesim):
    _fault(kubesim, path=DEPLOYMENTS, drop_watch=True, watch_only=True, count=1)
    pending = requests.get(f"{kubesim.url}/_sim/faults", timeout=5).json()["pending"]
    assert pending[0]["watch_only"] is True
    with pytest.raises(requests.RequestException):
        r = requests.get(f"{kubesim.url}{DEPLOYMENTS}", params={"watch": "1"}, timeout=5, stream=True)
        for line in r.iter_lines():  # no initial objects, then the connection is cut without an end chunk
            json.loads(line)
    assert fault_from_dict({"status": 410, "watch_only": True}).describe() == "status 410, (watch only)"


def test_watch_only_is_checked():
    with pytest.raises(ValueError, match="not to watch streams"):
        fault_from_dict({"status": 503, "watch_only": True, "after": True})
    with pytest.raises(ValueError, match="unknown fault fields"):
        fault_from_dict({"status": 503, "watch_onyl": True})
