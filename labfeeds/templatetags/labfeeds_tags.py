"""The count of lab results waiting for a person, where nurses see it: the worklist's header."""

from __future__ import annotations

from django import template

from labfeeds.selectors import waiting_count
from patients.access import clinics_for

register = template.Library()


@register.inclusion_tag("labfeeds/_waiting_link.html", takes_context=True)
def waiting_results_link(context):
    """One query: the waiting results of the user's clinics."""
    user = context["request"].user
    return {"count": waiting_count(clinics_for(user))}
