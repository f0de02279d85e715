"""Every page, as the person it is for, read the way a screen reader or a keyboard user meets it:
a language, a title, one main heading, the viewport for a phone, a name for every field and
button, errors tied to their fields, tables that scroll inside the page, and nothing that only a
mouse can use. The pages come from the URL configuration (as in tests/test_access.py), so a new
page is checked without being listed here; each form is also sent empty, to check its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import Role
from portal.invitations import invitation_send
from tests.auth import sign_in, staff_of
from tests.builders import lead_of
from tests.factories import PatientFactory, UserFactory
from tests.test_access import PORTAL_URLS, STAFF_URLS, records_in, url_of

pytestmark = pytest.mark.django_db

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
BUTTON_TYPES = {"submit", "button", "reset", "image"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None
    children: list[Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def text(self) -> str:
        own = " ".join(self.texts)
        inner = " ".join(child.text() for child in self.children)
        return " ".join(f"{own} {inner}".split())

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def __str__(self) -> str:
        attrs = " ".join(f'{k}="{v}"' for k, v in self.attrs.items())
        return f"<{self.tag} {attrs}>"


class Document(HTMLParser):
    """A small DOM: enough to follow labels, ids and ancestors. An end tag closes the nearest
    open element of its name, which is how browsers recover from unclosed <p> and <li>."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root
        self.feed(html)
        self.close()
        self.elements = list(self.root.walk())[1:]
        self.by_id: dict[str, list[Element]] = {}
        for element in self.elements:
            if "id" in element.attrs:
                self.by_id.setdefault(element.attrs["id"], []).append(element)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_endtag(self, tag):
        open_tags = [self.current, *self.current.ancestors()]
        for node in open_tags:
            if node.tag == tag:
                self.current = node.parent
                return

    def handle_data(self, data):
        self.current.texts.append(data)

    def all(self, *tags: str) -> list[Element]:
        return [e for e in self.elements if e.tag in tags]

    def text_of_ids(self, ids: str) -> str:
        return " ".join(self.by_id[i][0].text() for i in ids.split() if i in self.by_id)


def accessible_name(doc: Document, control: Element) -> str:
    attrs = control.attrs
    if attrs.get("aria-label", "").strip():
        return attrs["aria-label"].strip()
    if attrs.get("aria-labelledby"):
        return doc.text_of_ids(attrs["aria-labelledby"])
    if control.tag == "button":
        return control.text()
    if control.tag == "input" and attrs.get("type") in BUTTON_TYPES:
        return attrs.get("value", "") or attrs.get("alt", "")
    control_id = attrs.get("id")
    names = [
        label.text()
        for label in doc.all("label")
        if control_id and label.attrs.get("for") == control_id
    ]
    names += [a.text() for a in control.ancestors() if a.tag == "label"]
    return " ".join(name for name in names if name)


def is_visible_field(control: Element) -> bool:
    if control.tag == "input":
        return control.attrs.get("type", "text") not in {"hidden", *BUTTON_TYPES}
    return control.tag in {"select", "textarea"}


def problems_of(html: str) -> list[str]:
    """Everything on the page that a screen reader, a keyboard or a phone would trip over."""
    doc = Document(html)
    problems = []
    (html_element,) = doc.all("html")
    if not html_element.attrs.get("lang"):
        problems.append("<html> has no lang")
    # An SVG's own <title> names the drawing; the page's is in <head>.
    titles = [t for t in doc.all("title") if any(a.tag == "head" for a in t.ancestors())]
    if len(titles) != 1 or not titles[0].text():
        problems.append("no <title>, or an empty one")
    if not any(m.attrs.get("name") == "viewport" for m in doc.all("meta")):
        problems.append("no viewport meta tag")
    headings = doc.all("h1")
    if len(headings) != 1 or not headings[0].text():
        problems.append(f"{len(headings)} <h1> elements, not one with text")
    if not doc.by_id.get("main") or doc.by_id["main"][0].tag != "main":
        problems.append("no <main id=main> for the skip link")
    for element_id, elements in doc.by_id.items():
        if len(elements) > 1:
            problems.append(f"id {element_id!r} is used {len(elements)} times")
    for control in doc.all("input", "select", "textarea"):
        if is_visible_field(control) and not accessible_name(doc, control):
            problems.append(f"field without a label: {control}")
    for button in doc.all("button") + [
        i for i in doc.all("input") if i.attrs.get("type") in BUTTON_TYPES
    ]:
        if not accessible_name(doc, button):
            problems.append(f"button without a name: {button}")
    for label in doc.all("label"):
        target = label.attrs.get("for")
        if target and target not in doc.by_id:
            problems.append(f"label for a missing id: {label}")
    for control in doc.all("input", "select", "textarea"):
        if "is-invalid" in control.classes():
            # On the field, or for a group of radios or boxes, on their fieldset.
            described = " ".join(
                e.attrs.get("aria-describedby", "")
                for e in (control, *control.ancestors())
                if e is control or e.tag == "fieldset"
            )
            if not doc.text_of_ids(described):
                problems.append(f"an invalid field whose error is not tied to it: {control}")
    for table in doc.all("table"):
        if not any("table-responsive" in a.classes() for a in table.ancestors()):
            problems.append("a table outside .table-responsive widens the page on a phone")
    for element in doc.elements:
        if any(name.startswith("on") for name in element.attrs):
            problems.append(f"an inline event handler: {element}")
        if (
            element.attrs.get("tabindex", "0").lstrip("-").isdigit()
            and int(element.attrs.get("tabindex", "0")) > 0
        ):
            problems.append(f"a positive tabindex breaks the keyboard order: {element}")
        # Bootstrap's toggles must sit on something a keyboard reaches and a screen reader
        # announces as a control.
        if "data-bs-toggle" in element.attrs and not (
            element.tag == "button" or (element.tag == "a" and element.attrs.get("href"))
        ):
            problems.append(f"a toggle that is not a button or link: {element}")
        if element.tag == "a" and "href" not in element.attrs:
            problems.append(f"a link with no href cannot be reached by keyboard: {element}")
        if element.tag == "a" and not (element.text() or element.attrs.get("aria-label")):
            problems.append(f"a link without text: {element}")
        if element.tag == "img" and "alt" not in element.attrs:
            problems.append(f"an image without alt: {element}")
    return problems


def has_post_form_with_fields(html: str) -> bool:
    doc = Document(html)
    return any(
        form.attrs.get("method", "").lower() == "post"
        and any(
            is_visible_field(e) for e in form.walk() if e.tag in {"input", "select", "textarea"}
        )
        for form in doc.all("form")
    )


@pytest.fixture
def world(clinic_a):
    lead = lead_of(clinic_a, "lead_a")
    records = records_in(clinic_a, lead)
    records.patient.user = UserFactory(username="patient_mine")
    records.patient.email = "patient@example.org"
    records.patient.save(update_fields=["user", "email"])
    return {"lead": lead, "records": records}


def check_page_and_its_errors(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, url
    if not response["Content-Type"].startswith("text/html"):
        # An image (the overview's chart) or a download is no page to read; its text
        # alternative is on the page that shows it.
        return
    html = response.content.decode()
    assert problems_of(html) == [], url
    if has_post_form_with_fields(html):
        # Sent empty, a form shows its errors: each must be tied to its field.
        sent = client.post(url, {})
        if sent.status_code == 200 and sent["Content-Type"].startswith("text/html"):
            assert problems_of(sent.content.decode()) == [], f"{url}, sent empty"


@pytest.mark.parametrize(("name", "view"), STAFF_URLS)
def test_every_staff_page_can_be_read_and_filled_in_without_a_mouse(client, world, name, view):
    sign_in(client, world["lead"])
    check_page_and_its_errors(client, url_of(name, world["records"]))


@pytest.mark.parametrize(("name", "view"), PORTAL_URLS)
def test_every_portal_page_can_be_read_and_filled_in_without_a_mouse(client, world, name, view):
    sign_in(client, world["records"].patient.user, second_factor=False)
    check_page_and_its_errors(client, url_of(name, None))


def test_the_sign_in_page(client):
    check_page_and_its_errors(client, reverse("login"))


def test_the_second_factor_setup_page(client, clinic_a):
    nurse = staff_of(clinic_a, UserFactory(username="new_nurse"), Role.NURSE)
    sign_in(client, nurse, second_factor=False)
    check_page_and_its_errors(client, reverse("accounts:two_factor_setup"))


def test_the_second_factor_code_page(client, clinic_a):
    nurse = staff_of(clinic_a, UserFactory(username="nurse"), Role.NURSE)
    TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)
    sign_in(client, nurse, second_factor=False)
    check_page_and_its_errors(client, reverse("accounts:two_factor_verify"))


def test_the_invitation_page(client, world, mailoutbox):
    invited = PatientFactory(clinic=world["records"].patient.clinic, email="new@example.org")
    invitation_send(patient=invited, invited_by=world["lead"], now=timezone.now())
    link = next(line for line in mailoutbox[0].body.splitlines() if "://" in line)
    check_page_and_its_errors(client, urlsplit(link.strip()).path)


def test_the_not_found_page(client, world):
    sign_in(client, world["lead"])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert problems_of(response.content.decode()) == []


def test_the_checker_finds_an_unlabelled_field_and_a_bare_table():
    page = (
        '<!doctype html><html lang="en"><head><title>T</title>'
        '<meta name="viewport" content="width=device-width"></head><body><main id="main">'
        '<h1>Heading</h1><form method="post"><input name="q" id="q">'
        '<label>Wrapped <input name="w"></label><label for="x">For</label>'
        '<input id="x"><input aria-label="Named" name="n"><input type="hidden" name="h">'
        "<button></button></form><table><tr><td>1</td></tr></table>"
        '<div data-bs-toggle="collapse">click me</div></main></body></html>'
    )
    assert problems_of(page) == [
        'field without a label: <input name="q" id="q">',
        "button without a name: <button >",
        "a table outside .table-responsive widens the page on a phone",
        'a toggle that is not a button or link: <div data-bs-toggle="collapse">',
    ]
