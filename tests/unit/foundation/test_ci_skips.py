"""The CI guard: with AIRLOCK_REQUIRE_TOOLS=1 a skip becomes a failure."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_skip_fails_when_tools_are_required(tmp_path: Path) -> None:
    probe = REPO / "tests" / "unit" / "foundation" / "_skip_probe.py"
    probe.write_text("import pytest\n\ndef test_needs_tool():\n    pytest.skip('kubectl not found')\n")
    try:
        env = {**os.environ, "AIRLOCK_REQUIRE_TOOLS": "1"}
        ci = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        env["AIRLOCK_REQUIRE_TOOLS"] = "0"
        local = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        probe.unlink()
    assert ci.returncode == 1, ci.stdout
    assert "every required tool must be present" in ci.stdout
    assert local.returncode == 0, local.stdout
    assert "1 skipped" in local.stdout
