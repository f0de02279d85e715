"""The MLLP listener: an asyncio TCP server taking HL7 messages framed <VT> ... <FS><CR>.

Each connection's messages are taken one at a time, in the order sent (a final result must
not overtake the preliminary one it replaces), and each is answered before the next is read,
as HL7's original mode wants. The database work runs in a thread of a small pool, so one slow
message holds up only its own connection; the ACK is written only once that work has
returned, its transaction committed.

A sender that misbehaves affects only its own connection: bytes outside a frame are logged and
dropped; a frame over the size limit closes that connection (nothing in it can be trusted to
be where a frame begins).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import hl7.containers
import hl7.util
from django.db import close_old_connections, connections
from django.utils import timezone

from labfeeds.hl7.ack import REJECTED, ack_build, ack_refusal
from labfeeds.hl7.framing import MAX_FRAME_BYTES, FrameBuffer, frame
from labfeeds.hl7.reading import HeaderProblem
from labfeeds.hl7.receiving import Answer, hl7_message_take

log = logging.getLogger(__name__)
# python-hl7 logs a field's whole text when it meets a bad escape in it, and the field may be a
# patient's name: those loggers (named after the library's files) are kept quiet.
for _module in (hl7.util, hl7.containers):
    logging.getLogger(_module.__file__).setLevel(logging.CRITICAL)

READ_SIZE = 64 * 1024
# On SIGTERM, a message being recorded is finished and answered first, for this long at most.
STOP_GRACE_SECONDS = 30


@dataclass(eq=False)
class _Client:
    peer: str
    busy: bool = False
    task: asyncio.Task | None = field(default=None, repr=False)


class Listener:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        pinned_connection_id: int | None = None,
        workers: int = 4,
        frame_limit: int = MAX_FRAME_BYTES,
    ) -> None:
        self.host = host
        self.port = port
        self.pinned_connection_id = pinned_connection_id
        self.frame_limit = frame_limit
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hl7")
        self._clients: set[_Client] = set()
        self._stopping = False

    async def serve(self, stop: asyncio.Event) -> None:
        """Listen until `stop` is set, then finish the messages being recorded and close."""
        server = await asyncio.start_server(self._connected, self.host, self.port)
        log.info("Listening for HL7 (MLLP) on %s:%s", self.host, self.port)
        try:
            await stop.wait()
        finally:
            self._stopping = True
            server.close()
            await self._close_clients()
            await server.wait_closed()
            self._executor.shutdown(wait=True)
            log.info("HL7 listener stopped")

    async def _close_clients(self) -> None:
        # A connection waiting for its next message is closed at once; one whose message is
        # being recorded is given the time to answer it.
        for client in list(self._clients):
            if not client.busy and client.task is not None:
                client.task.cancel()
        tasks = [client.task for client in self._clients if client.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=5)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        peer = writer.get_extra_info("peername")
        client = _Client(peer=f"{peer[0]}:{peer[1]}" if peer else "?")
        client.task = asyncio.current_task()
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # A lab keeps its connection open for days: a peer that vanished without closing
            # it is found by TCP keepalive rather than held for ever.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._clients.add(client)
        buffer = FrameBuffer(self.frame_limit)
        try:
            while not self._stopping:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                frames = buffer.feed(data)
                if frames.discarded:
                    log.warning(
                        "HL7 from %s: %d bytes outside an MLLP frame, discarded",
                        client.peer,
                        frames.discarded,
                    )
                for body in frames.messages:
                    client.busy = True
                    try:
                        answer = await self._take(body)
                        self._log(client, answer)
                        writer.write(frame(answer.ack.encode("utf-8")))
                        await writer.drain()
                    finally:
                        client.busy = False
                if frames.too_big:
                    log.warning(
                        "HL7 from %s: a frame over %d bytes; connection closed",
                        client.peer,
                        self.frame_limit,
                    )
                    break
        except asyncio.CancelledError:
            pass
        except (ConnectionError, TimeoutError) as error:
            log.info("HL7 connection from %s lost: %s", client.peer, error)
        except Exception:
            log.exception("HL7 connection from %s failed", client.peer)
        finally:
            self._clients.discard(client)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _take(self, body: bytes) -> Answer:
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError:
            # Not UTF-8: an older lab system's single-byte character set; every byte reads.
            raw = body.decode("latin-1")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._take_in_thread, raw)

    def _take_in_thread(self, raw: str) -> Answer:
        close_old_connections()
        try:
            return hl7_message_take(raw, pinned_connection_id=self.pinned_connection_id)
        except Exception:
            # Not even stored (the database is down, say): AR, so the lab sends it again.
            log.exception("An HL7 message could not be stored")
            problem = HeaderProblem(
                "MSH", "The message could not be stored here; send it again later.", "207"
            )
            now = timezone.now()
            try:
                ack = ack_refusal(None, problem, ack_id=f"ERR{now:%Y%m%d%H%M%S}", now=now)
            except Exception:  # pragma: no cover - building text from constants
                ack = ack_build(None, REJECTED, [], ack_id="ERR", now=now)
            return Answer(REJECTED, ack, problems=1)
        finally:
            # This thread's connection is not kept between messages: a database restarted
            # meanwhile is met with a fresh one, and nothing holds a lock while idle.
            connections.close_all()

    @staticmethod
    def _log(client: _Client, answer: Answer) -> None:
        log.info(
            "HL7 %s from %s (%s): %s, %d recorded, %d waiting, %d problems%s",
            answer.control_id or "(no control ID)",
            client.peer,
            answer.connection or "no connection",
            answer.code,
            answer.recorded,
            answer.waiting,
            answer.problems,
            ", a repeat answered as before" if answer.repeated else "",
        )
