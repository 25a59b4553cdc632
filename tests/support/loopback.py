"""Small loopback servers for the tests that play a hostile or broken peer byte by byte.

``accept_forever`` serves every connection of a listening socket in a thread of its own;
``pump`` relays bytes one way (a proxy's tunnel); ``handler_server`` serves a
``BaseHTTPRequestHandler`` class for the length of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def accept_forever(
    listener: socket.socket,
    serve: Callable[[socket.socket], None],
    on_accept: Callable[[], None] = lambda: None,
) -> None:
    """Serve each connection ``listener`` accepts with ``serve`` in its own daemon thread,
    until the listener is closed; ``on_accept`` is called as each one arrives."""

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            on_accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def pump(source: socket.socket, sink: socket.socket) -> None:
    """Relay what ``source`` sends to ``sink`` until either side closes; then close ``sink``."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    sink.close()


def tunnel(client: socket.socket, upstream: socket.socket) -> None:
    """Relay both ways between ``client`` and ``upstream`` until both have closed."""
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
    pump(client, upstream)


@contextlib.contextmanager
def handler_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 inside the block; yields ``http://127.0.0.1:PORT``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
