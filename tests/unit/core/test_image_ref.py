"""One image-reference parser (OCI distribution reference grammar) for the spec, the registry gate,
the record and the log scan."""

import pytest

from airlock.image_ref import ImageRef, is_valid_tag, parse_image_ref, parse_repository, with_tag

SHA = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app", ImageRef(None, "app")),
        ("app:1.0", ImageRef(None, "app", "1.0")),
        ("team/app:v2", ImageRef("team", "app", "v2")),  # the grammar: a first component is the domain
        ("my_team/app", ImageRef(None, "my_team/app")),  # '_' is not valid in a domain: it is a path
        ("localhost:5000/team/app:v2", ImageRef("localhost:5000", "team/app", "v2")),
        ("127.0.0.1:5000/app", ImageRef("127.0.0.1:5000", "app")),
        ("[::1]:5000/app:x", ImageRef("[::1]:5000", "app", "x")),
        ("Registry.Example.com/a/b/c", ImageRef("Registry.Example.com", "a/b/c")),
        (f"reg.io/app@{SHA}", ImageRef("reg.io", "app", None, SHA)),
        (f"reg.io/app:1.0@{SHA}", ImageRef("reg.io", "app", "1.0", SHA)),
        ("reg.io/a__b/c-d--e.f:_tag", ImageRef("reg.io", "a__b/c-d--e.f", "_tag")),
    ],
)
def test_valid_references(text: str, expected: ImageRef) -> None:
    assert parse_image_ref(text) == expected
    assert str(parse_image_ref(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "App",
        "reg.io/App",
        "reg.io/app:",
        "reg.io/app:-x",
        "reg.io/app:.x",
        "reg.io/app:" + "a" * 129,
        "reg.io/app@sha256:abc",
        "reg.io/app@",
        "reg.io//app",
        "reg.io/app/",
        "reg.io/a_-b",
        "web:1.0:v1.2.3",
        "reg.io/" + "a" * 260,
        "reg.io/app tag",
    ],
)
def test_invalid_references(text: str) -> None:
    with pytest.raises(ValueError, match="image reference"):
        parse_image_ref(text)


def test_docker_hub_defaults() -> None:
    ref = parse_image_ref("docker.io/nginx:1.27")
    assert (ref.registry_host, ref.remote_name, ref.reference) == (
        "registry-1.docker.io",
        "library/nginx",
        "1.27",
    )
    ref = parse_image_ref("docker.io/bitnami/redis:7")
    assert (ref.registry_host, ref.remote_name) == ("registry-1.docker.io", "bitnami/redis")
    assert parse_image_ref("reg.io/nginx").remote_name == "nginx"
    assert parse_image_ref("nginx").registry_host is None


def test_tags_and_with_tag() -> None:
    assert is_valid_tag("v1.2.3") and is_valid_tag("a" * 128) and is_valid_tag("_x")
    for bad in ("", "a" * 129, ".v1", "-v1", "v1\n", "v1:2", "v1/2", "v1.ü", None, 12):
        assert not is_valid_tag(bad), bad
    assert with_tag("reg.io/team/app", "v1.2.3") == "reg.io/team/app:v1.2.3"
    with pytest.raises(ValueError, match="has a tag"):
        with_tag("web:1.0", "v1.2.3")  # the old f"{image}:{version}" made web:1.0:v1.2.3
    with pytest.raises(ValueError, match="not a valid image tag"):
        with_tag("reg.io/app", "v1.2.3\n")
    with pytest.raises(ValueError, match="has a digest"):
        parse_repository(f"reg.io/app@{SHA}")


def test_the_three_former_parsers_agree() -> None:
    from airlock.checks.log_scan import image_tag as scan_tag
    from airlock.checks.registry import parse_image
    from airlock.record import image_tag as record_tag

    image = "reg.example.com:5000/team/app:v1.2.3"
    assert scan_tag(image) == record_tag(image) == parse_image(image).reference == "v1.2.3"
    assert parse_image(image).host == "reg.example.com:5000" and parse_image(image).name == "team/app"
    assert parse_image("docker.io/nginx:1").full == "registry-1.docker.io/library/nginx:1"
    with pytest.raises(ValueError):
        parse_image("reg.io/App:1")  # was accepted and sent to the registry as is
    assert scan_tag("not an image") is None and record_tag("not an image") == "not an image"
