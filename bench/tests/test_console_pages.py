"""The console benchmark's pure parts: the pages it times, and its percentiles."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from bench.scenarios.console import _percentile
from bench.scenarios.console_pages import PROPOSED_INDEXES, console_pages

KEYS = {
    "cp_pk": 5000,
    "cp_id": "CP-005000",
    "tx_pk": 123,
    "running_pk": 999,
    "journal_pk": 77,
    "unique_id": "6f1c0e8a-9b2d",
    "command_pk": 5,
    "invoice_pk": 6,
    "invoice_number": "2026-000006",
    "now": datetime(2026, 12, 1, 0, 30, tzinfo=UTC),
}


def test_every_group_of_the_issue_is_timed_with_the_sampled_keys():
    pages = console_pages(KEYS)
    groups = {page.group for page in pages}
    assert {"home", "charge points", "sessions", "journal", "commands", "invoices"} <= groups
    paths = {page.name: page.path for page in pages if page.group == "journal"}
    assert paths["search charge point"].endswith("?q=CP-005000")
    day = parse_qs(urlparse(paths["day"]).query)
    # The day before the newest journal row, in UTC.
    assert day == {
        "timestamp__year": ["2026"],
        "timestamp__month": ["11"],
        "timestamp__day": ["30"],
    }
    assert len({(page.group, page.name) for page in pages}) == len(pages)


def test_a_page_whose_row_is_missing_is_left_out():
    pages = console_pages({**KEYS, "running_pk": None})
    assert "running page" not in {page.name for page in pages}
    assert all("None" not in page.path for page in pages)


def test_percentiles_interpolate_between_samples():
    assert _percentile([10.0], 95) == 10.0
    assert _percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert _percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == 4.8


def test_proposed_indexes_name_a_table_and_its_columns():
    for name, target in PROPOSED_INDEXES.items():
        table, columns = target.split(" ", 1)
        assert name.endswith("_idx") and table.count("_") >= 1
        assert columns.startswith("(") and columns.endswith(")")
