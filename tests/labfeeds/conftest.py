"""The lab feeds' tests share clinic A's lead, signed in or not."""

from __future__ import annotations

import pytest

from tests.auth import sign_in
from tests.builders import lead_of


@pytest.fixture
def lead_a(clinic_a):
    return lead_of(clinic_a, "lead_a")


@pytest.fixture
def client_lead(client, lead_a):
    return sign_in(client, lead_a)
