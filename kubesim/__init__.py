"""kubesim: a loopback Kubernetes API emulator with simulated application traffic.

Used only by tests and the demo; Airlock's runtime code never imports it.
See kubesim/README.md for the interface and the scenario file format.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
