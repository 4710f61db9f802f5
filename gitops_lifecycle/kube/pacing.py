"""Reading a watch in batches: one wake-up of the process for many events, never a full socket.

A watch that hears an event every few milliseconds wakes the process for each, and on a
small machine the wake-up costs more than the event. So after a read, the stream's reading is
held until the next multiple of the batch window on the event loop's clock (every watch of
the process wakes at the same moments), and what came meanwhile is read in one go.

Holding must never slow the API server down: a socket that fills up blocks its writes, and a
watcher that does not keep up is closed by the server. So the hold is only as long as the
stream's recent rate leaves the socket at most a quarter full — a halved window, a quarter,
down to none for a stream that is busy — and a read as large as the transport reads at once
(more may be waiting) is followed by the next at once.
"""

from __future__ import annotations

import asyncio
import socket

READ_SIZE = 256 * 1024
"""What an asyncio transport reads from a socket at once."""
HALVINGS = 6
"""The shortest hold is the window over 2**6; a stream busier than that is not held."""
FALLBACK_BUFFER = 128 * 1024
"""The receive buffer assumed where the socket cannot say."""


class Pacer:
    """Holds one watch connection's reading between reads while its events trickle in."""

    def __init__(self, transport: asyncio.BaseTransport | None, window: float) -> None:
        self._transport = transport if isinstance(transport, asyncio.ReadTransport) else None
        self._window = window
        self._socket = transport.get_extra_info("socket") if transport is not None else None
        self._loop = asyncio.get_running_loop()
        self._since = self._loop.time()

    async def after_read(self, size: int) -> None:
        """Called after each read of `size` bytes has been handled: hold, or return at once."""
        now = self._loop.time()
        rate = size / max(now - self._since, 1e-6)  # bytes a second, since the last read
        self._since = now
        hold = self._hold(rate)
        transport = self._transport
        if size >= READ_SIZE or hold is None or transport is None or not transport.is_reading():
            return  # busy, or held by aiohttp's own flow control: not ours to hold or release
        transport.pause_reading()
        try:
            await asyncio.sleep(hold - self._loop.time() % hold)
        finally:
            if not transport.is_closing():
                transport.resume_reading()
            self._since = self._loop.time()

    def _hold(self, rate: float) -> float | None:
        """The longest window/2**k in which `rate` fills at most the budget; None if none."""
        budget = _receive_buffer(self._socket) // 4  # read each time: the kernel grows it
        hold = self._window
        for _ in range(HALVINGS + 1):
            if rate * hold <= budget:
                return hold
            hold /= 2
        return None


def _receive_buffer(sock: socket.socket | None) -> int:
    """The socket's receive buffer; data fits in about half of it (the rest is overhead)."""
    if sock is None:
        return FALLBACK_BUFFER
    try:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    except OSError:
        return FALLBACK_BUFFER
