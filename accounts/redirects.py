from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request, default: str) -> str:
    """The `next` page a form or link asks to return to, but only a page of this site: a
    crafted link must not send a nurse elsewhere after signing in or signing a note."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
