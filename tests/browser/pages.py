"""Small steps the journeys share: signing in through the real form, how a date is shown, and
whether a page fits its screen."""

from __future__ import annotations

from datetime import date

from django.utils import formats, translation

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
