"""Structured logs: JSON lines carrying the charge point and message ids."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from asgiref.sync import sync_to_async

from monitoring.logging import (
    JsonFormatter,
    OcppContextFilter,
    PlainFormatter,
    bind_charge_point,
    bind_message,
)


@pytest.fixture
def capture():
    """A logger writing through the filter and a chosen formatter into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(OcppContextFilter())
    logger = logging.getLogger("monitoring.tests.structured")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler, stream
    logger.removeHandler(handler)


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_ocpp_context(capture):
    logger, handler, stream = capture
    handler.setFormatter(JsonFormatter())

    async def consumer():
        bind_charge_point("CP-7")
        logger.info("connected")
        bind_message("uid-1")
        # The consumer's ORM calls run in a thread: the context follows them.
        await sync_to_async(logger.warning)("handler says %s", "hi")

    asyncio.run(consumer())
    logger.info("outside any socket")
    connected, warned, outside = lines(stream)
    assert connected["charge_point_id"] == "CP-7" and connected["message_id"] is None
    assert warned == warned | {
        "level": "WARNING",
        "logger": "monitoring.tests.structured",
        "message": "handler says hi",
        "charge_point_id": "CP-7",
        "message_id": "uid-1",
    }
    assert warned["time"].endswith("+00:00")
    assert outside["charge_point_id"] is None  # the task's context did not leak


def test_sockets_do_not_see_each_others_ids(capture):
    logger, handler, stream = capture
    handler.setFormatter(JsonFormatter())

    async def socket(cp, uid, delay):
        bind_charge_point(cp)
        bind_message(uid)
        await asyncio.sleep(delay)
        logger.info("frame")

    async def both():
        await asyncio.gather(socket("CP-A", "a1", 0.02), socket("CP-B", "b1", 0.01))

    asyncio.run(both())
    assert [(x["charge_point_id"], x["message_id"]) for x in lines(stream)] == [
        ("CP-B", "b1"),
        ("CP-A", "a1"),
    ]


def test_exceptions_and_extra_fields_are_kept(capture):
    logger, handler, stream = capture
    handler.setFormatter(JsonFormatter())
    try:
        raise ValueError("bad frame")
    except ValueError:
        logger.exception("failed", extra={"action": "Heartbeat"})
    (line,) = lines(stream)
    assert line["action"] == "Heartbeat"
    assert "ValueError: bad frame" in line["exc_info"]


def test_plain_lines_name_the_charge_point_when_bound(capture):
    logger, handler, stream = capture
    handler.setFormatter(PlainFormatter("%(levelname)s %(message)s"))

    async def consumer():
        bind_charge_point("CP-9")
        bind_message(42)
        logger.info("answered")

    asyncio.run(consumer())
    logger.info("startup")
    assert stream.getvalue().splitlines() == ["INFO answered [cp=CP-9 msg=42]", "INFO startup"]


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_the_logging_setting_wires_filter_and_formatters(log_format):
    """The LOGGING dict the settings use (LOG_FORMAT=plain|json), through dictConfig."""
    import logging.config

    stream = io.StringIO()
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"ocpp_context": {"()": "monitoring.logging.OcppContextFilter"}},
        "formatters": {
            "plain": {
                "()": "monitoring.logging.PlainFormatter",
                "format": "%(levelname)s %(name)s %(message)s",
            },
            "json": {"()": "monitoring.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["ocpp_context"],
                "stream": stream,
            }
        },
        "loggers": {"monitoring.tests.config": {"handlers": ["console"], "propagate": False}},
    }
    logging.config.dictConfig(config)
    logger = logging.getLogger("monitoring.tests.config")

    async def consumer():
        bind_charge_point("CP-CFG")
        bind_message("m-1")
        logger.warning("slow answer")

    asyncio.run(consumer())
    line = stream.getvalue().strip()
    if log_format == "json":
        assert json.loads(line) | {"time": None} == {
            "level": "WARNING",
            "logger": "monitoring.tests.config",
            "message": "slow answer",
            "charge_point_id": "CP-CFG",
            "message_id": "m-1",
            "time": None,
        }
    else:
        assert line == "WARNING monitoring.tests.config slow answer [cp=CP-CFG msg=m-1]"
