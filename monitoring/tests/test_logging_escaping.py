"""No value a stranger sends can start a log line of its own."""

from __future__ import annotations

import io
import json
import logging

import pytest

from monitoring.logging import (
    JsonFormatter,
    OcppContextFilter,
    PlainFormatter,
    bind_charge_point,
    escape_control,
)

FORGED = "CP1\r\n2026-12-06 00:00:00,000 ERROR forged line"


@pytest.fixture
def capture():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(OcppContextFilter())
    logger = logging.getLogger("monitoring.tests.escaping")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler, stream
    logger.removeHandler(handler)
    bind_charge_point(None)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("a\r\nb", "a\\r\\nb"), ("\x00\x1b[31m", "\\x00\\x1b[31m"), ("\x85\u2028", "\\x85\\u2028"),
     ("plain é ü", "plain é ü")],
)  # fmt: skip
def test_control_characters_become_escapes(raw, escaped):
    assert escape_control(raw) == escaped


def test_plain_lines_cannot_be_forged_by_arguments_or_context(capture):
    logger, handler, stream = capture
    handler.setFormatter(PlainFormatter("%(levelname)s %(message)s"))
    bind_charge_point(FORGED)
    logger.warning("refused %s: %s", FORGED, ValueError(FORGED))
    logger.warning("refused %(id)s", {"id": FORGED})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("WARNING refused CP1\\r\\n2026") for line in lines)
    assert lines[0].endswith(
        "ERROR forged line [cp=CP1\\r\\n2026-12-06 00:00:00,000 ERROR forged line]"
    )


def test_a_traceback_keeps_its_lines(capture):
    logger, handler, stream = capture
    handler.setFormatter(PlainFormatter("%(levelname)s %(message)s"))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed for %s", "CP\n1")
    text = stream.getvalue()
    assert text.startswith("ERROR failed for CP\\n1\nTraceback")


def test_json_lines_stay_one_line(capture):
    logger, handler, stream = capture
    handler.setFormatter(JsonFormatter())
    bind_charge_point(FORGED)
    logger.warning("refused %s", FORGED + "\u2028more")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "refused " + escape_control(FORGED + "\u2028more")
    assert record["charge_point_id"] == escape_control(FORGED)


def test_numbers_keep_their_format(capture):
    logger, handler, stream = capture
    handler.setFormatter(PlainFormatter("%(message)s"))
    logger.info("%d frames in %.1f s", 3, 0.25)
    assert stream.getvalue() == "3 frames in 0.2 s\n"
