"""Kubeconfig for a kubesim URL: plain HTTP, no TLS, a bearer-token user.

kubesim ignores the token unless it runs with authentication (kubesim/auth.py); then `token` must be
one it knows. The default, "kubesim", is the superuser token `run_kubesim(tokens=...)` adds. kubectl
sends a token only over TLS: point it at kubesim's HTTPS listener (`Sim.tls_url`).
"""

from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_TOKEN = "kubesim"


def kubeconfig_dict(url: str, name: str = "kubesim", token: str = DEFAULT_TOKEN) -> dict:
    cluster: dict[str, object] = {"server": url}
    if url.startswith("https:"):
        cluster["insecure-skip-tls-verify"] = True  # kubesim's certificate is self-signed, made at start
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, url: str, name: str = "kubesim", token: str = DEFAULT_TOKEN) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig_dict(url, name, token), sort_keys=False), encoding="utf-8")
    return path
