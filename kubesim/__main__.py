"""`python -m kubesim --port PORT [--host 127.0.0.1] [--scenario FILE] [--kubeconfig-out FILE]
[--token-auth-file FILE [--authorization-mode RBAC|AlwaysAllow] [--kubeconfig-token TOKEN]] [--tls]`.

With `--token-auth-file` (the apiserver's static token CSV: `token,user,uid[,"group1,group2"]`) every
API request needs a bearer token from it (401 otherwise) and is authorized by the RBAC objects in the
cluster (403 otherwise) unless `--authorization-mode AlwaysAllow`; see kubesim/rbac.py. kubectl sends
a token only over TLS: `--tls` serves HTTPS with a self-signed certificate made at start (the
kubeconfig written by `--kubeconfig-out` then skips verification).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from kubesim.auth import Authenticator, load_token_file, self_signed_tls
from kubesim.kubeconfig import DEFAULT_TOKEN, write_kubeconfig
from kubesim.rbac import AccessControl
from kubesim.scenario import load_scenario_file
from kubesim.server import serve, shutdown
from kubesim.world import World


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubesim", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--scenario", help="scenario YAML/JSON file (see kubesim/README.md)")
    parser.add_argument("--kubeconfig-out", help="write a kubeconfig for this server here")
    parser.add_argument("--seed", type=int, default=0, help="RNG seed if the scenario sets none")
    parser.add_argument(
        "--token-auth-file", help="static token CSV (token,user,uid[,groups]): turns authentication on"
    )
    parser.add_argument(
        "--authorization-mode",
        choices=("RBAC", "AlwaysAllow"),
        default="RBAC",
        help="with --token-auth-file: enforce RBAC (default) or allow every authenticated request",
    )
    parser.add_argument(
        "--kubeconfig-token", default=DEFAULT_TOKEN, help="the token --kubeconfig-out authenticates with"
    )
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (self-signed certificate)")
    args = parser.parse_args(argv)

    scenario = load_scenario_file(args.scenario) if args.scenario else None
    world = World(scenario, seed=args.seed)
    access = None
    if args.token_auth_file:
        access = AccessControl(
            Authenticator(load_token_file(args.token_auth_file)),
            world.store,
            world.clock,
            rbac=args.authorization_mode == "RBAC",
        )
    server, thread = serve(
        world, args.host, args.port, access, self_signed_tls(args.host) if args.tls else None
    )
    if args.kubeconfig_out:
        write_kubeconfig(args.kubeconfig_out, server.url, token=args.kubeconfig_token)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(f"kubesim ready on {server.url}", flush=True)
    while not stop.wait(3600):
        pass
    shutdown(server, thread)
    return 0


if __name__ == "__main__":
    sys.exit(main())
