"""Every string of ours has a Thai translation, and the compiled catalog is current.

The check runs Django's `makemessages` as a developer would, but on a copy:
the translatable sources (.py, .html, .txt) and locale/th are copied to a
temporary folder and the catalog is merged there, so the real locale/ is
never written. A string added to the code without a translation comes out of
that merge untranslated, one whose English changed comes out fuzzy: both fail
here, naming the strings. The sources skipped are those the documented
command skips (CONTRIBUTING.md, "Translations"): tests, the benchmark
harness, runtime data. Without GNU gettext's tools the catalog checks are
skipped, saying which tool is missing.
"""

from __future__ import annotations

import contextlib
import gettext
import io
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone, translation
from django.utils.timesince import timesince

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "th" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Folders whose strings need no translation (same list as the makemessages
# command in CONTRIBUTING.md); hidden folders (.venv, .git) are skipped too.
IGNORED_DIRS = {"tests", "bench", "var", "node_modules", "staticfiles", "locale", "__pycache__"}
EXTENSIONS = {".py", ".html", ".txt"}  # makemessages' own default for the django domain
GETTEXT_TOOLS = ("xgettext", "msgmerge", "msguniq", "msgattrib", "msgfmt")
SHOWN = 30  # strings named in a failure message; the rest are counted


def _require_gettext() -> None:
    missing = [tool for tool in GETTEXT_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"GNU gettext tools missing ({', '.join(missing)}): apt-get install gettext")


def _copy_sources(destination: Path) -> int:
    """Copy the files makemessages would read; return how many."""
    count = 0
    for directory, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS and not d.startswith(".")]
        for name in filenames:
            if Path(name).suffix in EXTENSIONS:
                source = Path(directory) / name
                target = destination / source.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                count += 1
    return count


@pytest.fixture(scope="module")
def merged_po(tmp_path_factory) -> Path:
    """The Thai catalog as makemessages leaves it after merging today's strings."""
    _require_gettext()
    tree = tmp_path_factory.mktemp("catalog")
    assert _copy_sources(tree) > 100, "the source walk found almost nothing"
    locale = tree / "locale"
    (locale / "th" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copyfile(PO, locale / "th" / "LC_MESSAGES" / "django.po")
    # makemessages walks the current directory and writes into LOCALE_PATHS:
    # both point into the copy.
    with contextlib.chdir(tree), override_settings(LOCALE_PATHS=[locale]):
        call_command(
            "makemessages",
            locale=["th"],
            no_obsolete=True,
            ignore_patterns=sorted(IGNORED_DIRS),
            verbosity=0,
            stdout=io.StringIO(),
        )
    return locale / "th" / "LC_MESSAGES" / "django.po"


def _msgids(po: Path, *selection: str) -> list[str]:
    """The msgids msgattrib selects (e.g. --untranslated), one line each."""
    result = subprocess.run(
        ["msgattrib", *selection, "--no-obsolete", "--no-wrap", str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    msgids, current = [], None
    for line in result.stdout.splitlines():
        if line.startswith("msgid "):
            current = line[len("msgid ") :]
        elif line.startswith('"') and current is not None:
            current += line  # a msgid "" continued on the next lines
        else:
            if current not in (None, '""'):
                msgids.append(current)
            current = None
    if current not in (None, '""'):
        msgids.append(current)
    return msgids


def _report(kind: str, msgids: list[str]) -> str:
    shown = "\n  ".join(msgids[:SHOWN])
    more = f"\n  … and {len(msgids) - SHOWN} more" if len(msgids) > SHOWN else ""
    return (
        f"{len(msgids)} {kind} string(s) in the Thai catalog:\n  {shown}{more}\n"
        "Run the makemessages command of CONTRIBUTING.md (Translations), translate "
        "locale/th/LC_MESSAGES/django.po (remove each '#, fuzzy' after checking it), "
        "then compilemessages."
    )


def test_every_string_in_the_code_has_a_thai_translation(merged_po):
    untranslated = _msgids(merged_po, "--untranslated")
    assert not untranslated, _report("untranslated", untranslated)


def test_no_thai_translation_is_fuzzy(merged_po):
    fuzzy = _msgids(merged_po, "--only-fuzzy")
    assert not fuzzy, _report("fuzzy (the English changed, the Thai was not checked)", fuzzy)


def test_the_catalog_passes_msgfmt_check(tmp_path):
    """Placeholders (%(name)s, {name}) match their English and the header is sound."""
    _require_gettext()
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(PO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_compiled_catalog_is_current(tmp_path):
    """django.mo holds exactly what django.po says (compilemessages was run)."""
    _require_gettext()
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(fresh), str(PO)], check=True, capture_output=True)
    with MO.open("rb") as shipped, fresh.open("rb") as built:
        shipped_catalog = gettext.GNUTranslations(shipped)._catalog
        built_catalog = gettext.GNUTranslations(built)._catalog
    stale = sorted(str(key) for key in shipped_catalog.keys() ^ built_catalog.keys()) + sorted(
        str(key)
        for key in shipped_catalog.keys() & built_catalog.keys()
        if shipped_catalog[key] != built_catalog[key]
    )
    assert not stale, (
        f"locale/th/LC_MESSAGES/django.mo is stale ({len(stale)} differences, e.g. "
        f"{stale[:5]}): run `manage.py compilemessages -l th --ignore=.venv`"
    )


@pytest.mark.parametrize(
    ("english", "thai"),
    [
        # Django's own admin strings its Thai catalog lacks (csms_project/django_strings.py).
        ("Show counts", "แสดงจำนวน"),
        ("Start typing to filter…", "พิมพ์เพื่อกรอง…"),
        # And one of ours.
        ("security profile", "โปรไฟล์ความปลอดภัย"),
    ],
)
def test_the_console_shows_thai(english, thai):
    with translation.override("th"):
        assert translation.gettext(english) == thai


def test_time_since_reads_in_thai():
    """The "(3 minutes ago)" of the console: Django's Thai has only the old spelling."""
    with translation.override("th"):
        assert timesince(timezone.now() - timedelta(minutes=3)) == "3\xa0นาที"
