"""A real kfs on embedded defaults for the Python tests: demo data made by the ordinary CLI
(apply, produce, run) in a temporary data folder, then ``kfs serve`` with an API key on a free
port. KFS_* variables of the caller (the real stack's, under scripts/test-all.sh) are dropped, so
the tables and the online store are the embedded ones."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from kfs import Client

# The client passes its environment on to the CLI, as it should for users; these tests want the
# embedded defaults, not the real stack scripts/test-all.sh exports.
for name in [n for n in os.environ if n.startswith("KFS_") and n != "KFS_PYTEST_SEED"]:
    del os.environ[name]

ROOT = Path(__file__).resolve().parents[2]
CLI: List[str] = ["node", str(ROOT / "bin" / "kfs.mjs")]
API_KEY = "kfs-python-tests-key-0001"
EVENTS = 3000
# Randomized labels (test_historical.py): a new seed each run, shown in the header; KFS_PYTEST_SEED replays one.
SEED = int(os.environ.get("KFS_PYTEST_SEED", random.SystemRandom().randrange(1 << 30)))


def pytest_report_header() -> str:
    return f"kfs: randomized labels with KFS_PYTEST_SEED={SEED}"


class Kfs:
    """The running kfs: its data folder, CLI, environment and server URL."""

    def __init__(self, data_dir: Path, url: str, env: Dict[str, str], start: datetime) -> None:
        self.data_dir = data_dir
        self.url = url
        self.env = env
        self.start = start
        self.cli = CLI
        self.cwd = ROOT

    def run(self, *args: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(CLI + list(args), cwd=ROOT, env=self.env, capture_output=True, text=True)


def _env(data_dir: Path) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFS_")}
    env.update(KFS_DATA_DIR=str(data_dir), KFS_LOG_LEVEL="warn", KFS_CHECKPOINT_INTERVAL_MS="2000")
    return env


def _check(done: "subprocess.CompletedProcess[str]") -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(done.args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def kfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kfs]:
    data_dir = tmp_path_factory.mktemp("kfs-data")
    env = _env(data_dir)
    start = (datetime.now(timezone.utc) - timedelta(minutes=30)).replace(microsecond=0)

    def cli(*args: str) -> None:
        _check(subprocess.run(CLI + list(args), cwd=ROOT, env=env, capture_output=True, text=True))

    cli("apply")
    cli("produce", "--generate", str(EVENTS), "--seed", "11", "--start", start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cli("run", "--until-caught-up", "--idle", "1s")

    server = subprocess.Popen(
        CLI + ["serve", "--port", "0", "--json"],
        cwd=ROOT,
        env={**env, "KFS_SERVE_API_KEYS": API_KEY},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line:
            raise RuntimeError(f"kfs serve did not start: {server.stderr.read() if server.stderr else ''}")
        url = json.loads(line)["url"]
        yield Kfs(data_dir, url, env, start)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def client(kfs: Kfs) -> Client:
    return Client(kfs.url, api_key=API_KEY, cli=kfs.cli, cli_cwd=kfs.cwd, cli_env=kfs.env)
