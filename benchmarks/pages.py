"""Server time and queries of the busiest pages, through Django's test client in this process
(middleware, view, queries, template; no network)."""

from __future__ import annotations

from dataclasses import dataclass

from django.test import Client
from django.urls import reverse

from benchmarks.dataset import Dataset
from benchmarks.sessions import signed_in_client
from benchmarks.timing import Timed, timed


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    client: Client


def pages_of(dataset: Dataset) -> list[Page]:
    nurse = signed_in_client(dataset.nurse, second_factor=True)
    patient = signed_in_client(dataset.portal_user, second_factor=False)
    subject = dataset.subject
    return [
        Page("patient list", reverse("patients:list"), nurse),
        Page("patient page, five years", reverse("patients:detail", args=[subject.pk]), nurse),
        Page("nurse worklist", reverse("monitoring:worklist"), nurse),
        Page("patient portal home", reverse("portal:home"), patient),
        Page("patient portal results", reverse("portal:results"), patient),
    ]


def pages_measure(pages: list[Page], *, runs: int) -> dict[str, Timed]:
    figures = {}
    for page in pages:

        def get(page=page):
            response = page.client.get(page.url)
            if response.status_code != 200:
                raise RuntimeError(f"{page.url} answered {response.status_code}")
            return response

        figures[page.name] = timed(get, runs=runs)
    return figures
