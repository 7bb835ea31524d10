"""The live Service's selectors of blue-green, as pure functions (issue 11, point 6)."""

from __future__ import annotations

from airlock.kube.blue_green import colour_selector, needs_pin, pinned_selector


def test_the_pin_and_the_colour_replace_each_other():
    plain = {"app": "web"}
    pinned = pinned_selector(plain, "track", "abc123")
    assert pinned == {"app": "web", "pod-template-hash": "abc123"}
    # the switch drops the pin: a selector with both would select nothing (green has another hash)
    assert colour_selector(pinned, "track", "green") == {"app": "web", "track": "green"}
    assert colour_selector({"app": "web", "track": "green"}, "track", "blue") == {
        "app": "web",
        "track": "blue",
    }
    assert pinned_selector({"app": "web", "track": "green"}, "track", "abc") == {
        "app": "web",
        "pod-template-hash": "abc",
    }


def test_only_an_app_labels_selector_needs_the_pin():
    assert needs_pin({"spec": {"selector": {"app": "web"}}}, "track")
    assert not needs_pin({"spec": {"selector": {"app": "web", "pod-template-hash": "abc"}}}, "track")
    assert not needs_pin({"spec": {"selector": {"app": "web", "track": "green"}}}, "track")
