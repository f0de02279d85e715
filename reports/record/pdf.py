"""The monitoring record printed (reportlab): the periodic documentation a prescriber keeps for
the risk-management programme. It prints a reports.record.selectors.MonitoringRecord and reads
nothing else.

Text: every value from the record goes through `_markup` (a Paragraph reads markup, so "<b>" or
"&" in a name or a note would be taken for it) or, drawn straight on the canvas, `_plain`. The
font is DejaVu Sans where the machine has it (Latin, Greek, Cyrillic and many symbols), else
Vera, which reportlab ships (Latin-1 and a little more); a character the font has no glyph for
(an emoji in Vera, say) is printed as "?", so the page shows that something stood there rather
than an empty box or nothing."""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from monitoring.domain.check_status import CheckStatus

from .selectors import AcknowledgementEntry, CheckEntry, MonitoringRecord

PAGE = landscape(A4)
MARGIN = 14 * mm
HEADER_SPACE = 16 * mm
FONT, BOLD = "RecordSans", "RecordSans-Bold"
_SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
_SHIPPED_FONTS = Path(reportlab.__file__).parent / "fonts"
# Results below this tier are listed with their value alone; from it on, with why and what next.
_FLAGGED = ("low", "high", "amber", "red", "critical")


@cache
def _glyphs() -> frozenset[int]:
    """Register the record's fonts once; the code points the regular face can print."""
    regular, bold = _SYSTEM_FONTS / "DejaVuSans.ttf", _SYSTEM_FONTS / "DejaVuSans-Bold.ttf"
    if not (regular.exists() and bold.exists()):
        regular, bold = _SHIPPED_FONTS / "Vera.ttf", _SHIPPED_FONTS / "VeraBd.ttf"
    face = TTFont(FONT, str(regular))
    pdfmetrics.registerFont(face)
    pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
    return frozenset(face.face.charToGlyph)


def _plain(text: object) -> str:
    """`text` with what the font cannot print as "?" and control characters as spaces."""
    glyphs = _glyphs()
    return "".join(
        " " if ord(c) < 32 else (c if ord(c) in glyphs else "?") for c in str(text or "")
    )


def _markup(text: object) -> str:
    """`text` as a Paragraph's markup: escaped, its line breaks kept."""
    lines = str(text or "").replace("\r\n", "\n").split("\n")
    return "<br/>".join(escape(_plain(line)) for line in lines)


def _day(value: date | None) -> str:
    return f"{value:%d %b %Y}" if value else ""


def _styles() -> dict[str, ParagraphStyle]:
    _glyphs()
    base = ParagraphStyle("record", fontName=FONT, fontSize=8, leading=10)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=8.5),
        "h1": ParagraphStyle("h1", parent=base, fontName=BOLD, fontSize=14, leading=18),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName=BOLD,
            fontSize=11,
            leading=14,
            spaceBefore=8,
            spaceAfter=4,
            keepWithNext=1,
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=base,
            fontName=BOLD,
            fontSize=9,
            leading=12,
            spaceBefore=6,
            spaceAfter=2,
        ),
        "cell_head": ParagraphStyle("cell_head", parent=base, fontName=BOLD, fontSize=7.5),
    }


def _table(
    head: list[str], rows: list[list], widths: list[float], styles, caption: str = ""
) -> Table:
    """A table whose head repeats on each page it runs onto; with `caption`, a row above the
    head (the year of a table of checks) repeats with it."""
    cell = styles["small"]
    data = [[Paragraph(escape(h), styles["cell_head"]) for h in head]]
    if caption:
        data.insert(0, [Paragraph(escape(caption), styles["h3"])] + [""] * (len(head) - 1))
    for row in rows:
        data.append([c if isinstance(c, Paragraph) else Paragraph(c, cell) for c in row])
    heads = 2 if caption else 1
    table = Table(data, colWidths=widths, repeatRows=heads)
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, heads - 1), (-1, heads - 1), colors.HexColor("#e8ecf0")),
        ("GRID", (0, heads - 1), (-1, -1), 0.25, colors.HexColor("#9aa5b1")),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if caption:
        style.append(("SPAN", (0, 0), (-1, 0)))
        style.append(("LEFTPADDING", (0, 0), (-1, 0), 0))
    table.setStyle(TableStyle(style))
    return table


def _acknowledged(ack: AcknowledgementEntry, zone) -> str:
    when = f"{ack.at.astimezone(zone):%d %b %Y %H:%M}"
    return (
        f"Acknowledged by {_markup(ack.by)}, {when}: {_markup(ack.action)}. "
        f"<i>{_markup(ack.note)}</i>"
    )


def _results(check: CheckEntry) -> str:
    lines = []
    for result in check.results:
        text = f"{_markup(result.analyte)} {_markup(result.value)}"
        if result.in_error:
            text = f"<strike>{text}</strike> (entered in error)"
        lines.append(text)
    return "<br/>".join(lines)


def _flags(check: CheckEntry, zone) -> str:
    lines = []
    for result in check.results:
        if result.in_error or result.tier not in _FLAGGED:
            continue
        why = " ".join(_markup(reason) for reason in result.reasons)
        line = f"<b>{_markup(result.analyte)}: {_markup(result.tier_label)}</b>"
        if why:
            line += f" {why}"
        if result.next_action:
            line += f" Next: {_markup(result.next_action)}"
        lines.append(line)
        lines.extend(_acknowledged(ack, zone) for ack in result.acknowledgements)
    return "<br/>".join(lines)


def _notes(check: CheckEntry, zone) -> str:
    lines = [_acknowledged(ack, zone) for ack in check.acknowledgements]
    if check.is_waived:
        when = f"{check.waived_at.astimezone(zone):%d %b %Y %H:%M}"
        lines.append(
            f"<b>Waived</b> by {_markup(check.waived_by)}, {when}: {_markup(check.waived_reason)}"
        )
    return "<br/>".join(lines)


def _status(check: CheckEntry) -> str:
    label = CheckStatus(check.status).label
    if check.kind == "urgent":
        label += " (urgent)"
    elif check.kind == "pre_course" and check.course_number:
        label += f" (before course {check.course_number})"
    return escape(label)


def _story(record: MonitoringRecord, zone) -> list:
    styles = _styles()
    body, h2, h3 = styles["body"], styles["h2"], styles["h3"]
    person = record.identity
    width = PAGE[0] - 2 * MARGIN
    story = [Paragraph(f"Monitoring record: {_markup(person.name)}", styles["h1"])]

    completed = ""
    if person.complete_since:
        completed = f"{person.complete_since.astimezone(zone):%d %b %Y}"
    identity = [
        ("Name", person.name),
        ("Date of birth", _day(person.date_of_birth)),
        ("Sex", person.sex_label),
        ("Hospital number", person.hospital_number),
        ("Clinic", person.clinic),
        ("Status", person.status_label),
        ("Protocol", f"{person.protocol} ({person.follow_up_months} months of follow-up)"),
        ("Named nurse", person.named_nurse or "none: the clinic's nurse group"),
        ("Tracked from", _day(person.tracked_from)),
        ("End of follow-up", _day(person.follow_up_ends) or "not planned yet"),
    ]
    if completed:
        identity.append(("Monitoring complete since", completed))
    story.append(Paragraph("Patient", h2))
    table = Table(
        [
            [Paragraph(f"<b>{escape(k)}</b>", body), Paragraph(_markup(v), body)]
            for k, v in identity
        ],
        colWidths=[45 * mm, width - 45 * mm],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])
    )
    story.append(table)

    story.append(Paragraph("Courses", h2))
    if record.courses:
        rows = [
            [
                str(c.number),
                _day(c.first_infusion_date),
                str(c.days),
                f"{c.daily_dose_mg.normalize():f} mg",
                escape(c.status_label),
                "<br/>".join(_markup(reason) for reason in c.reasons),
            ]
            for c in record.courses
        ]
        story.append(
            _table(
                ["Course", "First infusion", "Days", "Daily dose", "Status", "Reasons recorded"],
                rows,
                [18 * mm, 28 * mm, 14 * mm, 22 * mm, 22 * mm, width - 104 * mm],
                styles,
            )
        )
    else:
        story.append(Paragraph("No course recorded.", body))

    story.append(Paragraph("Baseline labs", h2))
    any_baseline = False
    for course in record.courses:
        if not course.baselines:
            continue
        any_baseline = True
        rows = [
            [
                escape(check.test),
                _day(check.due_date),
                escape(CheckStatus(check.status).label),
                _day(check.completed_on),
                _results(check),
                _notes(check, zone),
            ]
            for check in course.baselines
        ]
        story.append(
            KeepTogether(
                [
                    Paragraph(f"Before course {course.number}", h3),
                    _table(
                        ["Test", "Due", "Status", "Done", "Results", "Waiver, acknowledgement"],
                        rows,
                        [36 * mm, 22 * mm, 24 * mm, 22 * mm, 80 * mm, width - 184 * mm],
                        styles,
                    ),
                ]
            )
        )
    if not any_baseline:
        story.append(Paragraph("No pre-course check in the record.", body))

    story.append(Paragraph("Checks", h2))
    summary = f"{len(record.checks)} checks, planned and urgent, by due date."
    if record.cancelled_checks:
        summary += (
            f" {record.cancelled_checks} cancelled checks (left the plan when it changed) "
            "are not listed."
        )
    story.append(Paragraph(summary, body))
    widths = [22 * mm, 30 * mm, 30 * mm, 22 * mm, 50 * mm, 63 * mm]
    widths.append(width - sum(widths))
    for year, checks in record.years:
        rows = [
            [
                _day(check.due_date),
                escape(check.test),
                _status(check),
                _day(check.completed_on),
                _results(check),
                _flags(check, zone),
                _notes(check, zone),
            ]
            for check in checks
        ]
        story.append(
            _table(
                [
                    "Due",
                    "Test",
                    "Status",
                    "Done",
                    "Results",
                    "Flag, next action, acknowledgement",
                    "Check acknowledged, waived",
                ],
                rows,
                widths,
                styles,
                caption=str(year),
            )
        )

    if record.unchecked_results:
        story.append(Paragraph("Results of no scheduled check", h3))
        rows = [
            [
                _day(result.sample_collected_on),
                _markup(result.analyte),
                _markup(result.value) + (" (entered in error)" if result.in_error else ""),
                _markup(result.tier_label)
                + "".join(f" {_markup(reason)}" for reason in result.reasons)
                + (f" Next: {_markup(result.next_action)}" if result.next_action else ""),
                "<br/>".join(_acknowledged(ack, zone) for ack in result.acknowledgements),
            ]
            for result in record.unchecked_results
        ]
        story.append(
            _table(
                ["Sample", "Test", "Value", "Flag, next action", "Acknowledgement"],
                rows,
                [22 * mm, 40 * mm, 40 * mm, 80 * mm, width - 182 * mm],
                styles,
            )
        )

    story.append(Paragraph("Symptom reports", h2))
    if record.symptom_reports:
        rows = []
        for symptom in record.symptom_reports:
            ack = symptom.acknowledgement
            rows.append(
                [
                    f"{symptom.reported_at.astimezone(zone):%d %b %Y %H:%M}",
                    "<br/>".join(_markup(label) for label in symptom.symptoms),
                    _markup(symptom.details),
                    _acknowledged(ack, zone) if ack else "Awaiting a nurse.",
                ]
            )
        story.append(
            _table(
                ["Reported", "Symptoms", "In the patient's words", "Acknowledgement"],
                rows,
                [30 * mm, 60 * mm, 80 * mm, width - 170 * mm],
                styles,
            )
        )
    else:
        story.append(Paragraph("The patient reported no symptom through the portal.", body))

    story.append(Paragraph("End of follow-up", h2))
    if person.follow_up_ends is None:
        end = "No end of follow-up yet: no course is planned or given."
    else:
        end = f"Follow-up ends on {_day(person.follow_up_ends)}"
        end += f" ({person.follow_up_months} months after the last course)."
    if completed:
        end += f" Monitoring complete since {completed}."
    else:
        end += f" Status: {escape(person.status_label)}."
    story.append(Paragraph(end, body))
    return story


def _numbered_canvas(header):
    """A canvas that holds its pages until the end, so each header can say "page x of y"."""

    class NumberedCanvas(pdf_canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                header(self, number, total)
                super().showPage()
            super().save()

    return NumberedCanvas


def _fit(text: str, font: str, size: float, width: float) -> str:
    while text and pdfmetrics.stringWidth(text, font, size) > width:
        text = text[:-4] + "..." if len(text) > 4 else ""
    return text


def record_pdf(record: MonitoringRecord, *, printed_at: datetime, zone, compress=True) -> bytes:
    """The record as a PDF. `printed_at` is shown in the clinic's time zone `zone`; `compress`
    off leaves the page streams readable (the tests search them)."""
    _glyphs()
    person = record.identity
    printed = f"Printed {printed_at.astimezone(zone):%d %b %Y %H:%M} ({zone.key})"
    left = _plain(f"{person.clinic} · Monitoring record")
    right = _plain(f"{person.name} · {person.hospital_number}")
    half = (PAGE[0] - 2 * MARGIN) / 2 - 6

    def header(canvas, number: int, total: int) -> None:
        canvas.saveState()
        top = PAGE[1] - MARGIN + 4
        canvas.setFont(BOLD, 9)
        canvas.drawString(MARGIN, top, _fit(left, BOLD, 9, half))
        canvas.drawRightString(PAGE[0] - MARGIN, top, _fit(right, BOLD, 9, half))
        canvas.setFont(FONT, 7.5)
        canvas.drawString(MARGIN, top - 11, printed)
        canvas.drawRightString(PAGE[0] - MARGIN, top - 11, f"Page {number} of {total}")
        canvas.setStrokeColor(colors.HexColor("#9aa5b1"))
        canvas.line(MARGIN, top - 15, PAGE[0] - MARGIN, top - 15)
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_SPACE,
        bottomMargin=MARGIN,
        title=_plain(f"Monitoring record: {person.name}"),
        author=_plain(person.clinic),
        pageCompression=1 if compress else 0,
        invariant=0 if compress else 1,
    )
    story = _story(record, zone)
    story.append(Spacer(1, 1))
    document.build(story, canvasmaker=_numbered_canvas(header))
    return buffer.getvalue()
