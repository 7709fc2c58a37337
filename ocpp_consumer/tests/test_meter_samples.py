"""OCPP 1.6 MeterValue objects read as MeterSample values."""

from datetime import UTC, datetime

import pytest

from ocpp_consumer.meter_samples import meter_samples_from_ocpp
from stations.services.meter_values import MeterSample

AT = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def test_a_bare_value_is_the_energy_register_in_wh():
    (sample,) = meter_samples_from_ocpp(
        [{"timestamp": "2024-05-01T10:30:00Z", "sampledValue": [{"value": "1234.5"}]}]
    )
    assert sample == MeterSample(
        timestamp=AT,
        value="1234.5",
        measurand="Energy.Active.Import.Register",
        unit="Wh",
        context="Sample.Periodic",
        location="Outlet",
        value_format="Raw",
        phase="",
    )


def test_given_fields_are_kept_and_the_time_is_read_as_utc():
    sampled = {
        "value": "16.5",
        "measurand": "Current.Import",
        "unit": "A",
        "phase": "L1",
        "location": "Inlet",
        "context": "Sample.Clock",
        "format": "SignedData",
    }
    (sample,) = meter_samples_from_ocpp(
        [{"timestamp": "2024-05-01T12:30:00+02:00", "sampledValue": [sampled]}]
    )
    assert sample == MeterSample(
        timestamp=AT,
        value="16.5",
        measurand="Current.Import",
        unit="A",
        context="Sample.Clock",
        location="Inlet",
        value_format="SignedData",
        phase="L1",
    )


def test_empty_fields_take_the_defaults():
    sampled = {"value": "7", "measurand": "", "unit": "", "context": "", "phase": ""}
    (sample,) = meter_samples_from_ocpp(
        [{"timestamp": "2024-05-01T10:30:00Z", "sampledValue": [sampled]}]
    )
    fields = (sample.measurand, sample.unit, sample.context, sample.phase)
    assert fields == ("Energy.Active.Import.Register", "Wh", "Sample.Periodic", "")


@pytest.mark.parametrize(("sent", "kept"), [(16.5, "16.5"), (12, "12"), ("0012", "0012")])
def test_the_value_is_kept_as_the_decimal_string_sent(sent, kept):
    (sample,) = meter_samples_from_ocpp(
        [{"timestamp": "2024-05-01T10:30:00Z", "sampledValue": [{"value": sent}]}]
    )
    assert sample.value == kept


def test_every_sampled_value_of_every_meter_value_in_order():
    samples = meter_samples_from_ocpp(
        [
            {
                "timestamp": "2024-05-01T10:30:00Z",
                "sampledValue": [{"value": "1"}, {"value": "230", "measurand": "Voltage"}],
            },
            {"timestamp": "2024-05-01T10:31:00Z", "sampledValue": [{"value": "2"}]},
        ]
    )
    assert [(s.timestamp.minute, s.value, s.measurand) for s in samples] == [
        (30, "1", "Energy.Active.Import.Register"),
        (30, "230", "Voltage"),
        (31, "2", "Energy.Active.Import.Register"),
    ]


@pytest.mark.parametrize("absent", [None, []])
def test_no_transaction_data_is_no_samples(absent):
    assert meter_samples_from_ocpp(absent) == []


def test_a_bad_timestamp_is_refused():
    with pytest.raises(ValueError):
        meter_samples_from_ocpp([{"timestamp": "yesterday", "sampledValue": [{"value": "1"}]}])
