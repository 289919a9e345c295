"""A real HTTP receiver on 127.0.0.1 (a port the OS picks) that checks each request's
signature with the secret it is given and answers with the status codes queued for it."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.signing import signature_verify


@dataclass
class Received:
    headers: dict
    body: bytes
    signed: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    secret: str = ""
    answers: list[int] = field(default_factory=list)  # next status codes; then 200
    requests: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signed = signature_verify(
                state.secret, self.headers.get("X-Smarketing-Signature", ""), body
            )
            state.requests.append(Received(dict(self.headers.items()), body, signed))
            code = state.answers.pop(0) if state.answers else 200
            if not signed:
                code = 401
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if code < 300 else b"receiver says no")

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()
