"""A loopback TCP proxy that can *hang* a service: bytes are accepted and never answered.

A stopped server refuses connections at once (the daemon's retry loop handles that and
a stop request cuts it short); a server that hangs is the harder case for a shutdown,
since the write blocks in a socket read. ``hold()`` makes the proxy swallow everything
the client sends, on open connections and new ones alike, so the client waits until its
own timeout.
"""

from __future__ import annotations

import selectors
import socket
import threading


class HangingProxy:
    """Forward 127.0.0.1:<port> to ``target`` until :meth:`hold` is called."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.held = threading.Event()
        self.held_bytes = 0  # bytes swallowed since hold(): the client is waiting on them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self) -> None:
        self.held.set()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        # A selector, not select.select: late in a full suite the test process holds
        # over 1024 descriptors and select() refuses any numbered above that.
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                try:
                    for key, _ in selector.select(0.2):
                        sock = key.fileobj
                        data = sock.recv(65536)
                        if not data:
                            return self._close(client, upstream)
                        if self.held.is_set():
                            # Swallow: the client's request (or the server's late answer)
                            # is never delivered, so the client blocks in its read.
                            if sock is client:
                                with self._lock:
                                    self.held_bytes += len(data)
                            continue
                        peers[sock].sendall(data)
                except OSError:
                    return self._close(client, upstream)
        self._close(client, upstream)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._close(*self._sockets)
