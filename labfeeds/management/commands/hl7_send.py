"""manage.py hl7_send FILE: send one HL7 message over MLLP, as a lab would, and print the ACK.
The file's segments may be separated by CR or by newlines (converted to CR)."""

from __future__ import annotations

import socket
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labfeeds.hl7.framing import FrameBuffer, frame
from labfeeds.hl7.reading import segments_text


class Command(BaseCommand):
    help = "Send an HL7 message file to an MLLP listener and print its ACK."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2575)
        parser.add_argument("--timeout", type=float, default=30, help="seconds to wait")

    def handle(self, *args, file, host, port, timeout, **options):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        message = (segments_text(text) + "\r").encode("utf-8")
        try:
            ack = send(message, host=host, port=port, timeout=timeout)
        except (OSError, ConnectionError) as error:
            raise CommandError(f"No ACK from {host}:{port}: {error}") from error
        shown = ack.decode("utf-8", "replace")
        self.stdout.write(shown.replace("\r", "\n").rstrip("\n"))
        code = _msa_code(shown)
        if code != "AA":
            raise CommandError(f"The listener answered {code or 'without an MSA'}.")


def send(message: bytes, *, host: str, port: int, timeout: float) -> bytes:
    """Send one framed message and return the ACK's body (blocking, with a timeout on each
    step)."""
    buffer = FrameBuffer()
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        conn.sendall(frame(message))
        while True:
            data = conn.recv(65536)
            if not data:
                raise ConnectionError("the listener closed the connection without an ACK")
            frames = buffer.feed(data)
            if frames.messages:
                return frames.messages[0]


def _msa_code(ack: str) -> str:
    for segment in ack.split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1] if "|" in segment[3:] else ""
    return ""
