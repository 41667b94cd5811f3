"""Free text (descriptions, ids): the characters that show nothing dropped, whitespace
collapsed, NFKC (`normalise_text`); and text as an export may carry it (`export_text`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final

# selectors, Hangul fillers, the combining grapheme joiner). Put between the letters of a
# word ("bullet<U+200D>proof") they change nothing a person sees and everything a text model
# sees, so text loses them before anything else looks at it. Ranges as (first, last) code
# points; tests check them against the running Python's Unicode database.
INVISIBLE_RANGES: Final = (
    (0x0000, 0x0008),
    (0x000E, 0x001B),
    (0x007F, 0x0084),
    (0x0086, 0x009F),
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    (0xE0100, 0xE01EF),
)


def _character_class(escape: Callable[[int], str]) -> str:
    return (
        "["
        + "".join(
            escape(first) if first == last else f"{escape(first)}-{escape(last)}"
            for first, last in INVISIBLE_RANGES
        )
        + "]"
    )


_INVISIBLE: Final = re.compile(_character_class(lambda c: f"\\U{c:08x}"))
# The same class for Arrow's RE2, so exports drop exactly what the normaliser drops.
INVISIBLE_RE2: Final = _character_class(lambda c: f"\\x{{{c:x}}}")


# Control characters that count as whitespace: the normaliser's split turns them into
# spaces; exports, which keep text as it came, turn them into spaces too (tab, line feed
# and carriage return stay: CSV quotes them).
SPACING_CONTROLS: Final = "\x0b\x0c\x1c\x1d\x1e\x1f\x85"
_SPACING_CONTROLS: Final = re.compile(f"[{SPACING_CONTROLS}]")
SPACING_CONTROLS_RE2: Final = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SPACING_CONTROLS) + "]"


def export_text(value: str) -> str:
    """Text as an export may carry it: invisible characters dropped, controls as spaces."""
    if value.isascii() and value.isprintable():
        return value
    return _SPACING_CONTROLS.sub(" ", _INVISIBLE.sub("", value))


def visible_text(value: str) -> str:
    """`value` without the invisible characters above (whitespace ones left to the caller)."""
    if value.isascii() and value.isprintable():
        return value  # the common case: no control character, nothing outside ASCII
    return _INVISIBLE.sub("", value)


def normalise_text(value: str) -> str:
    """Invisible characters dropped, NFKC, trimmed, inner whitespace collapsed to one space.

    The one normaliser of free text (descriptions, ids) for every surface: JSON, CSV and
    Parquet, training and scoring.
    """
    return " ".join(unicodedata.normalize("NFKC", visible_text(value)).split())
