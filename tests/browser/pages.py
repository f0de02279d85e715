"""Small steps the journeys share: signing in and out through the real forms, how a date is shown,
and whether a page fits its screen.

A click that submits a form returns as soon as the click is done, before the browser has the
answer. The next step therefore waits for the page the form leads to (its address, then what is
on it): going to another address straight away cancels the submission, and reading the database
straight away reads it before the server has written."""

from __future__ import annotations

import re
from datetime import date

from django.utils import formats, translation
from playwright.sync_api import expect

from tests.auth import current_code, totp_device
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery-staple"


def user_with_password(username: str, **fields):
    """A user who signs in through the real form with PASSWORD."""
    user = UserFactory(username=username, **fields)
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(page, username: str, password: str) -> None:
    page.goto("/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_staff(page, user) -> None:
    """Password, then the code from the user's authenticator app; done once the page where
    they land (the overview for a lead, the worklist for a nurse, the patient list for other
    staff) is shown."""
    sign_in(page, user.username, PASSWORD)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code from your authenticator app", exact=False).fill(
        current_code(totp_device(user))
    )
    page.get_by_role("button", name="Continue").click()
    # A lead lands on the clinic overview, a nurse on the worklist, other staff on the patients.
    expect(page).to_have_url(re.compile(r"/(patients|worklist|reports/overview)/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"^(Patients|Worklist|Overview · .+)$")
    )


def sign_out(page) -> None:
    """The Sign out button (in the menu, which is folded on a phone); done once the sign-in form
    it leads to is shown. Until then the session is not yet ended: a page opened meanwhile would
    cancel the sign-out, and the sign-in page would send the still signed-in user home."""
    toggler = page.get_by_role("button", name="Menu")
    if toggler.is_visible():
        toggler.click()
        # Clicked before the menu has opened, the button is still covered by the page below
        # it and the click is lost: wait until Bootstrap has finished opening it.
        expect(toggler).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#nav")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in/$"))
    expect(page.get_by_label("Username")).to_be_visible()


def displayed_date(day: date, clinic, pattern: str = "DATE_FORMAT") -> str:
    """`day` as the clinic's pages print it: `pattern` (a named format by default) in the
    clinic's date style."""
    with translation.override(clinic.date_locale):
        return formats.date_format(day, pattern)


def has_no_sideways_scroll(page) -> bool:
    """True when nothing makes the page wider than the screen (tables scroll inside their own
    box instead)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def too_wide(page) -> list[str]:
    """The outermost elements reaching past the right edge of the screen, for the message of a
    failed check."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(el => !el.closest('.table-responsive') || el.matches('.table-responsive'))
            .slice(0, 5)
            .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                 + ' ' + Math.round(el.getBoundingClientRect().right))
            .concat([`page ${document.documentElement.scrollWidth} of ${window.innerWidth}`])"""
    )
