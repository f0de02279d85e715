"""Refuse control characters in a request's parameters before any view reads them.

A NUL byte in `?q=` reached PostgreSQL, which cannot store or compare it, and answered a 500.
Every query parameter (names and values) is checked, and every field of a form post; a
multi-line field may hold tabs and line breaks, so those pass in a post. Forms give their own
field errors for what is left (a tab in a name); this is the backstop for every view, the
admin's included. Uploaded files are not fields: the CSV import reads them itself.
"""

from __future__ import annotations

from django.shortcuts import render

from monitoring.domain.input_rules import control_characters


def _first_bad(parameters, *, multi_line: bool) -> tuple[str, list[str]] | None:
    for name, values in parameters.lists():
        for text in (name, *values):
            if found := control_characters(text, multi_line=multi_line):
                return name, found
    return None


class ControlCharacterGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = _first_bad(request.GET, multi_line=False)
        where = "address"
        if problem is None and request.method == "POST" and _is_form(request):
            problem = _first_bad(request.POST, multi_line=True)
            where = "form"
        if problem is not None:
            name, found = problem
            message = (
                f"The {where} has a control character ({', '.join(found)}) in “{name[:40]}”; "
                "such characters are not text. Remove it and try again."
            )
            return render(request, "400.html", {"message": message}, status=400)
        return self.get_response(request)


def _is_form(request) -> bool:
    content_type = request.content_type or ""
    return content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
