"""manage.py hl7_listen: the MLLP listener taking lab results by HL7 v2 (see
labfeeds.hl7.listener). Stops cleanly on SIGTERM or SIGINT: a message being recorded is
finished and answered first."""

from __future__ import annotations

import asyncio
import logging
import signal

from django.core.management.base import BaseCommand, CommandError

from labfeeds.hl7.listener import Listener
from labfeeds.hl7.receiving import connection_pinned


class Command(BaseCommand):
    help = "Listen for HL7 v2 lab results (ORU^R01) over MLLP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2575)
        parser.add_argument(
            "--connection",
            help="Take every message on this port as from this lab connection (its name or "
            "number), whatever MSH-3 and MSH-4 say.",
        )

    def handle(self, *args, host, port, connection, **options):
        logging.getLogger("labfeeds").setLevel(logging.INFO)
        pinned = None
        if connection:
            try:
                pinned = connection_pinned(connection)
            except LookupError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"Every message on port {port} is from “{pinned.name}”.")
        listener = Listener(host, port, pinned_connection_id=pinned.pk if pinned else None)
        try:
            asyncio.run(_serve(listener))
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error


async def _serve(listener: Listener) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await listener.serve(stop)
