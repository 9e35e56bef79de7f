"""A stand-in for ``kfs serve`` that answers whatever a test sets, byte for byte: the answers kfs
gives (every value type, every error body) and the ones a broken server, a proxy or a network
gives (HTML, non-JSON, a body cut short, no answer at all). The client is judged on what it makes
of each, without a real server that could not be made to misbehave."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    # Declare a longer body than is sent, then close: a body cut short.
    cut_short: bool = False
    # Never answer (until the test ends): the client's timeout decides.
    hang: bool = False


def json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(value).encode())


@dataclass
class Stub:
    url: str
    replies: Dict[str, Reply] = field(default_factory=dict)
    requests: List[Tuple[str, str, Optional[Any]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def set(self, method: str, path: str, reply: Reply) -> None:
        self.replies[f"{method} {path}"] = reply


def _handler(stub: Stub) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            stub.requests.append((self.command, self.path, json.loads(raw) if raw else None))
            reply = stub.replies.get(f"{self.command} {self.path}", json_reply({"error": {"code": "NOT_FOUND", "message": "no route"}}, 404))
            if reply.hang:
                stub.release.wait()
                return
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(reply.body) + (1000 if reply.cut_short else 0)))
            self.end_headers()
            self.wfile.write(reply.body)
            if reply.cut_short:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = _answer
        do_POST = _answer

    return Handler


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Stub("")))
    state = Stub(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(state)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
