"""The dates a page or message shows, read back ("5 Dec 2026", the clinic's default format)."""

import re
from datetime import UTC, date, datetime

SHOWN_DATE = re.compile(r"\d{1,2} \w{3} \d{4}")


def shown_dates(text: str) -> list[date]:
    return [
        datetime.strptime(found, "%d %b %Y").replace(tzinfo=UTC).date()
        for found in SHOWN_DATE.findall(text)
    ]
