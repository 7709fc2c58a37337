"""The invoice PDF's fonts: Thai and Latin in every language, shipped with the project.

reportlab's built-in fonts (Helvetica) have no Thai glyphs: a Thai word
printed as boxes. The PDF uses Laksaman (TLWG) for all its text, and Sarabun
for the few characters Laksaman lacks (most of Latin Extended, Vietnamese),
chosen per run of text. billing/fonts/README.md says why these two and under
which licences they are shipped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"


@dataclass(frozen=True)
class Family:
    regular: str  # reportlab's name for the font
    bold: str
    regular_file: Path
    bold_file: Path

    def name(self, *, bold: bool) -> str:
        return self.bold if bold else self.regular


PRIMARY = Family(
    "CsmsLaksaman",
    "CsmsLaksaman-Bold",
    FONT_DIR / "tlwg" / "Laksaman.ttf",
    FONT_DIR / "tlwg" / "Laksaman-Bold.ttf",
)
FALLBACK = Family(
    "CsmsSarabun",
    "CsmsSarabun-Bold",
    FONT_DIR / "sarabun" / "Sarabun-Regular.ttf",
    FONT_DIR / "sarabun" / "Sarabun-Bold.ttf",
)

_lock = threading.Lock()
_coverage: dict[str, frozenset[int]] = {}


def fonts_register() -> None:
    """Register both families with reportlab, once per process."""
    if _coverage:
        return
    with _lock:
        if _coverage:
            return
        coverage = {}
        for family in (PRIMARY, FALLBACK):
            files = ((family.regular, family.regular_file), (family.bold, family.bold_file))
            for name, path in files:
                font = TTFont(name, str(path))
                pdfmetrics.registerFont(font)
                coverage[name] = frozenset(font.face.charToGlyph)
            pdfmetrics.registerFontFamily(
                family.regular,
                normal=family.regular,
                bold=family.bold,
                italic=family.regular,
                boldItalic=family.bold,
            )
        _coverage.update(coverage)


def covered(text: str, *, bold: bool = False) -> bool:
    """Whether the PDF's fonts have a glyph for every character of the text."""
    fonts_register()
    primary = _coverage[PRIMARY.name(bold=bold)]
    fallback = _coverage[FALLBACK.name(bold=bold)]
    return all(ord(char) in primary or ord(char) in fallback for char in text if char.isprintable())


def markup(text: str, *, bold: bool = False) -> str:
    """Paragraph markup for plain text: escaped, and in the fallback font where needed.

    A character the primary font lacks and the fallback has starts a run in
    the fallback font; everything else (spaces included) stays in the primary
    font, whose missing glyphs print as its empty box.
    """
    fonts_register()
    primary = _coverage[PRIMARY.name(bold=bold)]
    fallback = _coverage[FALLBACK.name(bold=bold)]
    face = FALLBACK.name(bold=bold)
    parts: list[str] = []
    run: list[str] = []
    run_in_fallback = False
    for char in text:
        code = ord(char)
        in_fallback = code not in primary and code in fallback
        if in_fallback != run_in_fallback and run:
            parts.append(_run("".join(run), face if run_in_fallback else None))
            run = []
        run_in_fallback = in_fallback
        run.append(char)
    if run:
        parts.append(_run("".join(run), face if run_in_fallback else None))
    return "".join(parts)


def _run(text: str, face: str | None) -> str:
    escaped = escape(text)
    return f'<font face="{face}">{escaped}</font>' if face else escaped
