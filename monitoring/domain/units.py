"""How a unit may be written. UCUM ("10*9/L", "m[IU]/L"), a lab's printout ("x10E9/L", or
"x10⁹/L" with a multiplication sign) and a person typing ("10^9/l", "µmol/L") spell the same
unit differently; each spelling here reduces to one key, and a unit is accepted when its key is
the key of a unit the catalogue lists for the analyte (monitoring.domain.measurements).

Only the writing is normalised. No factor is ever inferred: "10*6/L" reduces to a key no
platelet unit has, and is refused, never read as a thousandth of "10^9/L". Pure: no Django.
"""

from __future__ import annotations

import re
from functools import cache

_MICRO = str.maketrans({"µ": "u", "μ": "u"})  # the micro sign and the Greek mu
_SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUPERSCRIPT = re.compile(rf"\^?([{_SUPERSCRIPT_DIGITS}]+)")
_TO_DIGITS = str.maketrans(_SUPERSCRIPT_DIGITS, "0123456789")
# A leading multiplication sign before the power of ten: "x10^9/L", "*10^9/L", and the
# multiplication sign and middle dot themselves (written as escapes: they look like x and .).
_TIMES = re.compile("^[x*\u00d7\u00b7]+(?=10)")
# A power of ten however it is written: 10^9 (the catalogue), 10*9 (UCUM), 10E9 and 10e9
# (printers and spreadsheets), 10**9.
_POWER_OF_TEN = re.compile(r"^10(?:\^|\*\*|\*|e)(\d+)")
# "K/uL", the US cell counters' thousands per microlitre. In a count it has one reading,
# 10^3/uL; UCUM's K (kelvin) is never a lab result's unit. Only before a slash, so "K" alone or
# inside another unit is not touched.
_THOUSANDS = re.compile(r"^k(?=/)")


@cache  # a handful of spellings, read for every result of a lab's night
def unit_key(spelling: str) -> str:
    """The spelling reduced for comparison: spaces gone, micro as "u", superscript and UCUM
    powers of ten as "10^n", UCUM's brackets dropped, IU as U, lower case. Two spellings with
    the same key are the same unit; a key says nothing about how two units convert."""
    text = "".join(spelling.split()).translate(_MICRO)
    text = _SUPERSCRIPT.sub(lambda found: "^" + found.group(1).translate(_TO_DIGITS), text)
    # Case carries no meaning in the catalogue's units (mL and ml, L and l), so it is dropped
    # before the patterns below, which are written in lower case.
    text = text.lower()
    text = _TIMES.sub("", text)
    text = _POWER_OF_TEN.sub(r"10^\1", text)
    text = _THOUSANDS.sub("10^3", text)
    # UCUM brackets the units that are not metric ("[IU]", "[HPF]"); the catalogue does not.
    text = text.replace("[", "").replace("]", "")
    # International units are the units these results are given in: U/L and IU/L of an enzyme
    # are the same (1 U = 1 umol/min), as are mU/L and mIU/L of TSH.
    return text.replace("iu", "u")


def same_unit(one: str, other: str) -> bool:
    return unit_key(one) == unit_key(other)
