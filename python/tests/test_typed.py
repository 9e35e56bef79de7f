"""The package is typed: it ships py.typed, and mypy --strict accepts it and a typed use of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kfs

USE = '''
from kfs import Client, KfsError, View
client: Client = Client("http://localhost:8080", api_key="k")
views: list[View] = client.list_views()
row: dict[str, object] = client.get_online_features_dict(service="s", entity={"user_id": "u0"})
error: KfsError = KfsError("NOT_FOUND", "no")
code: str = error.code
wrong: int = client.describe("v")
'''


def test_ships_py_typed_and_mypy_strict_passes(tmp_path: Path) -> None:
    package = Path(kfs.__file__).parent
    assert (package / "py.typed").exists()
    use = tmp_path / "use.py"
    use.write_text(USE)
    mypy = [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--no-incremental"]
    package_check = subprocess.run(mypy + ["-p", "kfs"], cwd=tmp_path, capture_output=True, text=True)
    assert package_check.returncode == 0, package_check.stdout
    # Only because kfs ships py.typed does mypy see describe()'s type: the planted error is the one error.
    use_check = subprocess.run(mypy + [str(use)], cwd=tmp_path, capture_output=True, text=True)
    errors = [line for line in use_check.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "use.py:8" in errors[0] and '"View"' in errors[0], use_check.stdout
