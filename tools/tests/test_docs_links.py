"""The documentation holds together: its links lead somewhere, its settings table is whole.

Relative links and images of README.md, CONTRIBUTING.md, CHANGELOG.md and
docs/*.md must name a file (or folder) of the repository, and a `#anchor`
must name a heading of the target as GitHub renders it (its slug). Links
inside code are not links. Every setting the project reads from the
environment must appear in docs/CONFIGURATION.md, as the README promises.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target "title") and ![alt](target); text may hold one level of brackets.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+[\"'(][^)]*)?\)"
)
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_TARGET = re.compile(
    r"<(?:img|a|source)\b[^>]*?\b(?:src|href|srcset)\s*=\s*[\"']([^\"']+)[\"']", re.I
)
HTML_ANCHOR = re.compile(r"<a\b[^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
ATX_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


def _outside_code_blocks(text: str) -> list[str]:
    """The lines of a Markdown text that are not in a fenced code block."""
    lines, fenced = [], None
    for line in text.splitlines():
        fence = FENCE.match(line)
        if fence and (fenced is None or fence.group(1) == fenced):
            fenced = fence.group(1) if fenced is None else None
        elif fenced is None:
            lines.append(line)
    return lines


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code blanked out."""
    return [
        CODE_SPAN.sub(lambda span: " " * len(span.group(0)), line)
        for line in _outside_code_blocks(text)
    ]


def link_targets(text: str) -> list[str]:
    """Every link and image target of a Markdown text, in order."""
    targets = []
    for line in prose_lines(text):
        for pattern in (INLINE_LINK, REFERENCE_DEFINITION, HTML_TARGET):
            for match in pattern.finditer(line):
                targets.append(match.group(1).strip("<>").strip())
    return targets


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: plain text, lower case, punctuation dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = re.sub(r"[^\w\- ]", "", text.lower())  # keeps letters, digits, _, -, space
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown text: heading slugs (repeats numbered) and HTML ids."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in _heading_lines(text):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    for line in prose_lines(text):
        found.update(HTML_ANCHOR.findall(line))
    return found


def _heading_lines(text: str) -> list[str]:
    """The text of each ATX heading outside code blocks (code spans kept as text)."""
    matches = (ATX_HEADING.match(line) for line in _outside_code_blocks(text))
    return [match.group(1) for match in matches if match]


def broken_links(document: Path) -> list[str]:
    """The relative targets of `document` that lead nowhere, each with the reason."""
    problems = []
    for target in link_targets(document.read_text(encoding="utf-8")):
        if not target or EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part.split("?")[0])
        destination = (document.parent / path_part).resolve() if path_part else document
        if not destination.exists():
            problems.append(f"{target}: no file {os.path.relpath(destination, ROOT)}")
            continue
        if anchor and destination.suffix == ".md":
            if unquote(anchor) not in anchors(destination.read_text(encoding="utf-8")):
                problems.append(f"{target}: no heading #{anchor} in {destination.name}")
    return problems


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_lead_to_files_and_headings(document):
    assert broken_links(document) == []


def test_the_documents_exist():
    assert all(document.is_file() for document in DOCUMENTS)
    assert (ROOT / "docs" / "CONFIGURATION.md") in DOCUMENTS


# --- the checker itself ---------------------------------------------------------


def test_slugs_follow_github():
    assert github_slug("Your first session") == "your-first-session"
    assert github_slug("1. Get a token") == "1-get-a-token"
    assert github_slug("bin/run and the launcher") == "binrun-and-the-launcher"
    assert github_slug("Health, metrics and logs") == "health-metrics-and-logs"
    assert github_slug("CSMS — an OCPP 1.6J Central System") == "csms--an-ocpp-16j-central-system"
    assert github_slug("The `ocpp_command` [command](x.md)") == "the-ocpp_command-command"


def test_repeated_headings_are_numbered_and_html_ids_count():
    text = '# Notes\n\n## Notes\n\n<a id="custom"></a>\n'
    assert anchors(text) == {"notes", "notes-1", "custom"}


def test_links_in_code_are_not_links():
    text = (
        'See [a](a.md), ![img](pics/b.png) and <img src="c.png" alt="">.\n'
        "`[not](inline.md)`\n"
        "```md\n[not](fenced.md)\n```\n"
        "[ref]: d.md#part\n"
        '[`code` text](e.md "title")\n'
    )
    assert link_targets(text) == ["a.md", "pics/b.png", "c.png", "d.md#part", "e.md"]


def test_missing_files_and_headings_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "B.md").write_text("# Present\n", encoding="utf-8")
    document = tmp_path / "A.md"
    document.write_text(
        "[ok](docs/B.md#present) [web](https://example.com/x.md) [self](#top)\n"
        "# Top\n[gone](docs/C.md) [bad anchor](docs/B.md#absent) [dir](docs/)\n",
        encoding="utf-8",
    )
    assert broken_links(document) == [
        "docs/C.md: no file docs/C.md",
        "docs/B.md#absent: no heading #absent in B.md",
    ]


# --- every setting is documented -------------------------------------------------

SETTINGS_READ = re.compile(r"\benv\.\w+\(\s*\"([A-Z][A-Z0-9_]*)\"")
ENVIRON_READ = re.compile(r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]*)\"")
SHELL_DEFAULT = re.compile(r"\$\{([A-Z][A-Z0-9_]*):-")
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}


def settings_read_from_the_environment() -> set[str]:
    """Every variable the product reads: settings.py, the launcher and friends, bin/run."""
    names = set(SETTINGS_READ.findall((ROOT / "csms_project" / "settings.py").read_text()))
    for module in (ROOT / "csms_project").glob("*.py"):
        if module.name != "testing.py":
            names.update(ENVIRON_READ.findall(module.read_text()))
    names.update(ENVIRON_READ.findall((ROOT / "monitoring" / "metrics.py").read_text()))
    for script in ("run", "test"):
        names.update(SHELL_DEFAULT.findall((ROOT / "bin" / script).read_text()))
    return names - NOT_SETTINGS


def test_every_setting_is_in_the_configuration_table():
    table = (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", table))
    names = settings_read_from_the_environment()
    assert {"DATABASE_URL", "OCPP_DEFAULT_REGISTRATION_STATUS", "CSMS_PORT"} <= names
    assert sorted(names - documented) == []
