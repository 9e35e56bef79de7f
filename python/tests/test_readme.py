"""The notebook example of python/README.md runs as written against the test server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import API_KEY, CLI, ROOT, Kfs


def test_readme_example_runs(kfs: Kfs, tmp_path: Path) -> None:
    readme = (ROOT / "python" / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1
    script = tmp_path / "example.py"
    script.write_text(blocks[0])
    env = {**kfs.env, "KFS_URL": kfs.url, "KFS_API_KEY": API_KEY, "KFS_CLI": " ".join(CLI)}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "user_purchases@1" in done.stdout
    assert "rebuild with: kfs training-set --rebuild" in done.stdout
    assert "NOT_FOUND 404 {'service': 'no_such_service'}" in done.stdout
    assert os.path.basename(sys.executable).startswith("python")
