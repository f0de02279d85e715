"""MLLP framing: a message travels as <VT> message <FS><CR> (0x0B ... 0x1C 0x0D). Pure: bytes
in, frames out, so the listener and the sender share it and it is tested without a socket."""

from __future__ import annotations

from dataclasses import dataclass

START = b"\x0b"
END = b"\x1c\x0d"
# No lab result message comes near this; a bigger frame is a misbehaving sender, refused before
# it fills the listener's memory.
MAX_FRAME_BYTES = 1024 * 1024


def frame(message: bytes) -> bytes:
    return START + message + END


@dataclass(frozen=True)
class Frames:
    """What one read gave: the complete frames, how many bytes outside a frame were dropped,
    and whether a frame outgrew the limit (the connection cannot be trusted any more)."""

    messages: list[bytes]
    discarded: int = 0
    too_big: bool = False


class FrameBuffer:
    """Bytes as they arrive on one connection, cut into frames. Bytes before a start byte are
    not part of any message: they are dropped (and counted, for the log)."""

    def __init__(self, limit: int = MAX_FRAME_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Frames:
        self._buffer += data
        messages: list[bytes] = []
        discarded = 0
        while True:
            start = self._buffer.find(START)
            if start < 0:
                # No frame has begun: nothing here can be kept.
                discarded += len(self._buffer)
                self._buffer.clear()
                break
            if start:
                discarded += start
                del self._buffer[:start]
            end = self._buffer.find(END, 1)
            if end < 0:
                if len(self._buffer) - 1 > self.limit:
                    self._buffer.clear()
                    return Frames(messages, discarded, too_big=True)
                break
            body = bytes(self._buffer[1:end])
            del self._buffer[: end + len(END)]
            if len(body) > self.limit:
                return Frames(messages, discarded, too_big=True)
            # A start byte inside a frame means the one before never ended: keep the last.
            restart = body.rfind(START)
            if restart >= 0:
                discarded += restart + 1
                body = body[restart + 1 :]
            messages.append(body)
        return Frames(messages, discarded)

    @property
    def pending(self) -> int:
        """Bytes of a frame begun and not yet ended."""
        return len(self._buffer)
