"""plugins/.airflowignore keeps Airflow's plugin loader from exec'ing library modules under bare names.

The loader runs every *.py it finds under plugins/ as a module named by its file stem; without the
ignore file, plugins/operators/canary.py would also exist as module `canary`, with its own copies of
every class (isinstance checks and XCom deserialization then break) and could shadow real packages.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
from pathlib import Path
plugins = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(plugins))
from airflow._shared.plugins_manager.plugins_manager import _load_plugins_from_plugin_directory
loaded, errors = _load_plugins_from_plugin_directory(str(plugins), ignore_file_syntax="glob")
names_by_file = {}
for name, mod in list(sys.modules.items()):
    f = getattr(mod, "__file__", None)
    if f and Path(f).resolve().is_relative_to(plugins):
        names_by_file.setdefault(str(Path(f).resolve().relative_to(plugins)), []).append(name)
print(json.dumps({"plugins": [p.name for p in loaded], "errors": errors, "names": names_by_file}))
"""


def _probe(plugins_dir: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(plugins_dir)], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plugin_loads_once_without_duplicate_modules() -> None:
    out = _probe(REPO / "plugins")
    assert out["errors"] == {}
    assert out["plugins"] == ["airlock"]
    duplicates = {f: names for f, names in out["names"].items() if len(names) > 1}
    assert duplicates == {}, f"modules loaded under two names (duplicate classes): {duplicates}"
    # the library packages are importable under their package names only
    bare = {
        names[0]
        for f, names in out["names"].items()
        if "/" in f and not f.endswith("__init__.py") and "." not in names[0]
    }
    assert bare == set(), f"library modules exec'd under bare names: {bare}"


def test_without_airflowignore_the_loader_duplicates_modules(tmp_path: Path) -> None:
    """The control: the same tree minus .airflowignore does produce bare-name duplicates."""
    copy = tmp_path / "plugins"
    shutil.copytree(REPO / "plugins", copy, ignore=shutil.ignore_patterns("__pycache__", ".airflowignore"))
    out = _probe(copy)
    duplicates = {f: names for f, names in out["names"].items() if len(names) > 1}
    assert duplicates, "expected duplicates without .airflowignore - the guard test would prove nothing"
