"""Daphne, refusing an oversized request body before it is stored: `python deploy/serve.py` takes
Daphne's own arguments (`make run` and deploy/cluster.py start every Daphne process this way).

Daphne (Twisted) reads a whole request body into memory or a temporary file before it calls the
application, so a limit in the app comes too late: 300 MB sent to any path, unauthenticated,
landed in /tmp first. Here Twisted's request refuses a body whose `Content-Length` is over
`DATA_UPLOAD_MAX_MEMORY_SIZE` as soon as the headers are in, and counts a chunked body as it
arrives, answering 413 (the project's error shape) and closing the connection at the first
chunk past the limit. The app (server/edge.py) keeps the same limit for any other ASGI server.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import daphne.http_protocol
from daphne.cli import CommandLineInterface

ROOT = Path(__file__).resolve().parents[1]


def _limit() -> int:
    # Read when the first request comes, after Daphne has loaded the app (and so the settings).
    from django.conf import settings

    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _answer(limit: int) -> bytes:
    from server.edge import too_large_body

    body = too_large_body(limit)
    head = (
        "HTTP/1.1 413 Request Entity Too Large\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedRequest(daphne.http_protocol.WebRequest):
    """Daphne's request, which stores no more of a body than the limit."""

    refused = False
    received = 0

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > _limit():
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.received += len(data)
        if self.received > _limit():
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self) -> None:
        """Answer 413 straight on the connection and close it: the request never reaches the
        application, and what the client still sends is dropped unread."""
        self.refused = True
        self.content = io.BytesIO()  # what Twisted would have written the body to
        self.channel.transport.write(_answer(_limit()))
        self.channel.transport.loseConnection()

    def process(self):
        if self.refused:
            return None
        return super().process()


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    # Daphne's HTTP factory builds each request from this module-level name.
    daphne.http_protocol.WebRequest = BoundedRequest
    CommandLineInterface().run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
