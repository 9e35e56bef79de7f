"""The OpenAPI document checked by schemathesis against the running `kfs serve` (demo data, API
key on): every answer to its generated requests — valid and invalid, with and without the key,
other methods — must be no 5xx and must conform to the document (status, content type, headers,
body schema). A run that tested little fails too: every operation must be tested and the checks
must have run on hundreds of answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import requests

from conftest import API_KEY, Kfs

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
]
MIN_CASES = 300
MIN_CHECKED_ANSWERS = 300


def test_schemathesis_finds_no_server_error_and_no_schema_violation(kfs: Kfs, tmp_path: Path) -> None:
    document = requests.get(f"{kfs.url}/openapi.json", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10).json()
    operations = sum(len(ops) for ops in document["paths"].values())
    # From a file, with --url: loaded from the server's URL, schemathesis leaves out the operation that served it.
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(document))
    report = tmp_path / "report.json"
    events = tmp_path / "events.ndjson"
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [
            str(st), "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "--no-color",
            "run", str(schema), "--url", kfs.url,
            "-H", f"Authorization: Bearer {API_KEY}",
            "--checks", ",".join(CHECKS),
            "--max-examples", os.environ.get("KFS_SCHEMATHESIS_EXAMPLES", "60"),
            "--seed", os.environ.get("KFS_SCHEMATHESIS_SEED", "17"),
            # One worker: CPython 3.11.7's ast.parse is not thread-safe (SystemError "AST constructor recursion depth mismatch").
            "--workers", "1",
            "--report", "json,ndjson", "--report-json-path", str(report), "--report-ndjson-path", str(events),
        ],
        cwd=tmp_path,  # schemathesis keeps a cache folder in its working directory
        capture_output=True,
        text=True,
    )
    assert report.exists(), f"schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    summary: Dict[str, Any] = json.loads(report.read_text())
    checked = count_checks(events)
    print(
        f"schemathesis: {summary['operations']['tested']}/{operations} operations, {summary['test_cases']['generated']} cases, "
        f"{sum(checked.values())} check results ({', '.join(f'{k} {v}' for k, v in sorted(checked.items()))}), "
        f"{len(summary['failures'])} failures, {sum(e['count'] for e in summary['errors'])} errors"
    )
    assert done.returncode == 0, done.stdout[-6000:]
    assert summary["failures"] == [] and summary["errors"] == []
    assert summary["operations"]["tested"] == operations == summary["operations"]["total"]
    assert summary["test_cases"]["generated"] >= MIN_CASES, summary["test_cases"]
    for check in ("not_a_server_error", "response_schema_conformance", "status_code_conformance"):
        assert checked.get(check, 0) >= MIN_CHECKED_ANSWERS, (check, checked)


def count_checks(events: Path) -> Dict[str, int]:
    """How many answers each check judged, from schemathesis's NDJSON event stream (every scenario's recorder)."""
    counts: Dict[str, int] = {}
    for line in events.read_text().splitlines():
        event = json.loads(line).get("ScenarioFinished")
        if event is None:
            continue
        checks: Dict[str, List[Dict[str, Any]]] = event.get("recorder", {}).get("checks", {})
        for results in checks.values():
            for result in results:
                counts[result["name"]] = counts.get(result["name"], 0) + 1
    return counts
