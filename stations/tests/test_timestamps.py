"""Reading and writing OCPP dateTime values."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from stations.timestamps import format_ocpp_datetime, parse_ocpp_datetime


@pytest.mark.parametrize(
    "text",
    ["2024-05-01T10:00:00", "2024-05-01T10:00:00.000", "2024-05-01 10:00:00"],
)
def test_parse_without_zone_is_utc(text):
    parsed = parse_ocpp_datetime(text)
    assert parsed.utcoffset() == timedelta(0)
    assert parsed == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T10:00:00Z",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T05:30:00-04:30",
        "2024-05-01T19:00:00.000+09:00",
    ],
)
def test_parse_converts_offsets_to_utc(text):
    parsed = parse_ocpp_datetime(text)
    assert parsed.tzinfo == UTC
    assert (parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute) == (
        2024,
        5,
        1,
        10,
        0,
    )


def test_parse_crosses_the_date_line():
    assert parse_ocpp_datetime("2024-01-01T01:00:00+03:00") == datetime(
        2023, 12, 31, 22, 0, tzinfo=UTC
    )


def test_parse_keeps_fractions():
    parsed = parse_ocpp_datetime("2024-05-01T10:00:00.123456Z")
    assert parsed.microsecond == 123456


@pytest.mark.parametrize(
    "text", ["", "garbage", "2024-13-01T00:00:00Z", "2024-02-30T10:00:00Z", "10:00:00", "yesterday"]
)
def test_parse_garbage_raises_value_error(text):
    with pytest.raises(ValueError):
        parse_ocpp_datetime(text)


def test_format_ends_with_z_and_milliseconds():
    value = datetime(2024, 5, 1, 10, 0, 5, 678901, tzinfo=UTC)
    assert format_ocpp_datetime(value) == "2024-05-01T10:00:05.678Z"


def test_format_pads_milliseconds():
    value = datetime(2024, 5, 1, 10, 0, 5, 7000, tzinfo=UTC)
    assert format_ocpp_datetime(value) == "2024-05-01T10:00:05.007Z"
    assert format_ocpp_datetime(value.replace(microsecond=0)) == "2024-05-01T10:00:05.000Z"


def test_format_converts_offsets_to_utc():
    value = datetime(2024, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert format_ocpp_datetime(value) == "2023-12-31T22:30:00.000Z"


def test_format_and_parse_round_trip():
    value = datetime(2024, 5, 1, 10, 0, 5, 678000, tzinfo=UTC)
    assert parse_ocpp_datetime(format_ocpp_datetime(value)) == value
