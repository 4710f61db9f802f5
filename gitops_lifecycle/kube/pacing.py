"""Reading a watch in batches: one wake-up of the process for many events, never a full socket.

A watch that hears an event every few milliseconds wakes the process for each, and on a
small machine the wake-up costs more than the event. So after a read, the kernel is told not
to wake the reader until the next multiple of the batch window on the event loop's clock
(every watch of the process wakes at the same moments), and what came meanwhile is read in
one go.

Holding must never slow the API server down: a socket that fills up blocks its writes, and a
watcher that does not keep up is closed by the server. No guess at the stream's rate can
promise that (a burst after a quiet spell has no rate to go by), so the socket keeps being
watched all along: the hold is the socket's low-water mark (`SO_RCVLOWAT`) raised to 128 KiB,
and the kernel wakes the reader as soon as that much waits, however fast it came. (Linux
sizes the receive buffer, unless it was set by hand, to hold the mark: the reader is woken
when the socket has taken the mark's worth, and the server's writes go on meanwhile into its
own send buffer.) At the window's moment the mark drops back to a byte and whatever waits is
read. A read as large as the transport reads at once (more may be waiting) is followed at
once by the next. Where the socket cannot take the mark, nothing is held. (Linux wakes the
reader when a lowered mark is already met since 4.18; before, the bytes waited for the next
to arrive.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Protocol

READ_SIZE = 256 * 1024
"""What an asyncio transport reads from a socket at once."""
MARK = 128 * 1024
"""What may wait in the socket before the reader is woken during a hold."""


class _Socket(Protocol):
    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...


class Pacer:
    """Holds back one watch connection's wake-ups between reads while its events trickle in."""

    def __init__(self, transport: asyncio.BaseTransport | None, window: float) -> None:
        self._sock = _socket(transport)
        self._window = window
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None

    def after_read(self, size: int) -> None:
        """Called after each read of `size` bytes has been handled: hold until the next
        window moment, or (a read as large as one transport read) not at all."""
        if self._sock is None:
            return
        if size >= READ_SIZE:
            self.release()
            return
        now = self._loop.time()
        self._cancel()
        self._timer = self._loop.call_at(now - now % self._window + self._window, self.release)
        self._low_water(MARK)

    def release(self) -> None:
        """Wake the reader for any byte again (the window's moment, or the stream's end)."""
        self._cancel()
        self._low_water(1)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _low_water(self, size: int) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, size)
        except OSError:  # closed meanwhile, or a socket that does not take the mark
            self._sock = None
            self._cancel()


def _socket(transport: asyncio.BaseTransport | None) -> _Socket | None:
    """The transport's socket, if it takes a low-water mark (a TLS one gives its TCP socket)."""
    if transport is None or not hasattr(socket, "SO_RCVLOWAT"):
        return None
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        return sock  # type: ignore[no-any-return]
    return None
