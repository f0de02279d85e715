"""Sessions in the database, as Django keeps them, except that a request which changed nothing in
its session only pushes the expiry on (SESSION_SAVE_EVERY_REQUEST) instead of writing back the
whole session it read when it started, and does even that at most once a minute
(EXPIRY_PUSH_SECONDS): a nurse clicking through the worklist costs no write per page, and the
idle timeout ends her session between SESSION_IDLE_MINUTES less a minute and
SESSION_IDLE_MINUTES after her last request.

Writing it all back loses updates: a request that read the session before another one signed the
user in, or passed the second factor, finishes after it and puts the old contents back. The
browser asks for /favicon.ico alongside the page, so after "Continue" on the code page a nurse
could be sent back to that page, her second factor forgotten."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import router, transaction

EXPIRY_PUSH_SECONDS = 60


class SessionStore(DatabaseSessionStore):
    _stored_expiry = None  # the expiry the row had when this request loaded it

    def _get_session_from_db(self):
        stored = super()._get_session_from_db()
        self._stored_expiry = stored.expire_date if stored is not None else None
        return stored

    def save(self, must_create: bool = False) -> None:
        if must_create or self.modified or self.session_key is None:
            super().save(must_create=must_create)
            return
        expiry = self.get_expiry_date()
        if self.session_key is None:
            # Reading the expiry loaded the session and found it gone (expired, or signed out
            # by another request): nothing is left to keep alive.
            raise UpdateError
        pushed = self._stored_expiry
        if pushed is not None and expiry - pushed < timedelta(seconds=EXPIRY_PUSH_SECONDS):
            return  # pushed on less than a minute ago
        using = router.db_for_write(self.model)
        # In a savepoint as Django's own save is, so a request costs the same queries as before.
        with transaction.atomic(using=using):
            kept = (
                self.model.objects.using(using)
                .filter(session_key=self.session_key)
                .update(expire_date=expiry)
            )
        if not kept:
            # Signed out by another request meanwhile; as Django's own save does, the middleware
            # turns this into "session interrupted" rather than bringing the session back.
            raise UpdateError
