"""The address a request came from, for the lockout, the audit trail and the security log.

X-Forwarded-For is believed only as far as our own proxies wrote it: with TRUSTED_PROXY_COUNT
proxies in front (nginx, a load balancer), the client is that many entries from the right. With
none, anything in the header came from the client and could be forged, so REMOTE_ADDR is used.
"""

from __future__ import annotations

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings


def client_address(request) -> str | None:
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


class AuditlogClientAddressMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, reading the address by the rule above rather than taking
    the first X-Forwarded-For entry, which the client controls."""

    @staticmethod
    def _get_remote_addr(request):
        return client_address(request)

    @staticmethod
    def _get_remote_port(request):
        return None
