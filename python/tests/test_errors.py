"""Every error status the server's OpenAPI document lists maps to a clear exception: a subclass of
KfsError named for what went wrong, carrying the status, kfs's code, the context and the errorId.
The document is the one the server serves (serving/openapi/), built here by the TypeScript code
itself, so a status added there without a mapping here fails this test. No server is started."""

from __future__ import annotations

import json
import subprocess
from typing import Any, Dict, List, Set

import pytest

from kfs import (
    BadRequestError,
    KfsError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    TooLargeError,
    UnauthorizedError,
    UnavailableError,
)
from kfs.errors import error_for

from conftest import ROOT

# Statuses every request may get before any route, named in the document's info rather than per
# operation: the router's fallbacks (404, 405) and the HTTP parser's refusals (400, 408, 431).
EVERY_REQUEST = {400, 404, 405, 408, 431}

EXPECTED = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    405: BadRequestError,
    408: RequestTimeoutError,
    413: TooLargeError,
    426: BadRequestError,
    431: BadRequestError,
    500: ServerError,
    503: UnavailableError,
    504: RequestTimeoutError,
}


def _document() -> Dict[str, Any]:
    script = (
        "const { createFeatureCatalog } = await import('./serving/feature-catalog.ts');"
        "const { openApiDocument } = await import('./serving/openapi/index.ts');"
        "process.stdout.write(JSON.stringify(openApiDocument(createFeatureCatalog({ views: [] }))))"
    )
    done = subprocess.run(
        ["node", "--import", "tsx", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    document: Dict[str, Any] = json.loads(done.stdout)
    return document


DOCUMENT = _document()


def _documented_statuses() -> Set[int]:
    statuses = set(EVERY_REQUEST)
    for operations in DOCUMENT["paths"].values():
        for operation in operations.values():
            statuses.update(int(s) for s in operation["responses"] if int(s) >= 400)
    return statuses


def test_the_document_names_every_request_wide_status_in_its_info() -> None:
    info: str = DOCUMENT["info"]["description"]
    for status in EVERY_REQUEST:
        assert str(status) in info, status


@pytest.mark.parametrize("status", sorted(_documented_statuses()))
def test_each_documented_error_status_maps_to_a_named_exception(status: int) -> None:
    codes: List[str] = DOCUMENT["components"]["schemas"]["ErrorCode"]["enum"]
    body = {"error": {"code": codes[0], "message": "what was wrong", "view": "user_stats", "errorId": "e-1"}}
    err = error_for(status, body)
    assert type(err) is EXPECTED.get(status), f"{status} maps to {type(err).__name__}"
    assert type(err) is not KfsError
    assert (err.status, err.code, err.message, dict(err.details), err.error_id) == (status, codes[0], "what was wrong", {"view": "user_stats"}, "e-1")
    # An answer without the error body (a proxy's page) maps by its status alike.
    assert type(error_for(status, None)) is EXPECTED[status]
