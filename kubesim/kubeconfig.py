"""Kubeconfig for a kubesim URL: plain HTTP, no TLS, a token user (kubesim ignores auth)."""

from __future__ import annotations

from pathlib import Path

import yaml


def kubeconfig_dict(url: str, name: str = "kubesim") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}}],
        "users": [{"name": name, "user": {"token": "kubesim"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, url: str, name: str = "kubesim") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig_dict(url, name), sort_keys=False), encoding="utf-8")
    return path
