"""The profiles the dispatcher builds: valid in each OCPP version, within the charger's means."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import make_charge_point, make_session
from devicemodel.models import DeviceVariable, VariableAttribute
from loadmanagement import dispatch, services
from loadmanagement.models import ChargerFallback, ChargerMaxProfile, SendState, SessionAllocation
from ocpp_consumer.commands import command_validate
from stations.models import ConfigurationKey, Station

pytestmark = pytest.mark.django_db


@pytest.fixture
def station():
    return Station.objects.create(name="Yard")


def allocate(station, version="1.6", power_type="AC_3_PHASE", ocpp_tx=""):
    cp = make_charge_point(f"D-{version}-{power_type}", station=station, is_online=True)
    cp.ocpp_version = version
    cp.save()
    cp.connectors.update(max_power_w=11_040, power_type=power_type)
    session = make_session(
        cp, "TAG", start=timezone.now() - timedelta(minutes=5), ocpp_transaction_id=ocpp_tx
    )
    services.site_limit_set(station_id=station.pk, grid_limit_w=9_000, safety_margin_percent=0)
    return cp, session


def test_a_16_tx_profile_names_the_transaction_and_limits_in_amperes(station):
    cp, session = allocate(station)
    jobs, unsupported = dispatch._due(station.pk)
    assert unsupported == []
    tx_job = next(job for job in jobs if job.transaction_id == session.pk)
    command_validate(action="SetChargingProfile", payload=tx_job.payload, version="1.6")
    profile = tx_job.payload["csChargingProfiles"]
    assert tx_job.payload["connectorId"] == 1
    assert profile["transactionId"] == session.pk
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["chargingSchedule"]["chargingRateUnit"] == "A"
    # 9 kW on three phases at 230 V: 13.0 A per phase.
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 13, "numberPhases": 3}
    ]
    fallback = next(job for job in jobs if job.kind == dispatch.FALLBACK)
    command_validate(action="SetChargingProfile", payload=fallback.payload, version="1.6")
    assert fallback.payload["connectorId"] == 0
    assert fallback.payload["csChargingProfiles"]["chargingProfilePurpose"] == "TxDefaultProfile"


def test_a_201_tx_profile_names_the_chargers_transaction_id_and_dc_gets_watts(station):
    cp, session = allocate(station, version="2.0.1", power_type="DC", ocpp_tx="tx-abc")
    jobs, _ = dispatch._due(station.pk)
    tx_job = next(job for job in jobs if job.transaction_id == session.pk)
    command_validate(action="SetChargingProfile", payload=tx_job.payload, version="2.0.1")
    profile = tx_job.payload["chargingProfile"]
    assert tx_job.payload["evseId"] == 1
    assert profile["transactionId"] == "tx-abc"
    schedule = profile["chargingSchedule"][0]
    assert schedule["chargingRateUnit"] == "W"
    # The engine shares in tenths of an ampere per phase: 13.0 A x 3 x 230 V.
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 8970}]
    fallback = next(job for job in jobs if job.kind == dispatch.FALLBACK)
    command_validate(action="SetChargingProfile", payload=fallback.payload, version="2.0.1")
    assert fallback.payload["evseId"] == 0


def test_reported_capabilities_are_respected(station):
    cp, session = allocate(station)
    for key, value in (
        ("ChargeProfileMaxStackLevel", "0"),
        ("ChargingScheduleAllowedChargingRateUnit", "Power"),
    ):
        ConfigurationKey.objects.create(charge_point=cp, key=key, value=value)
    jobs, _ = dispatch._due(station.pk)
    profile = next(job for job in jobs if job.transaction_id).payload["csChargingProfiles"]
    assert profile["stackLevel"] == 0
    assert profile["chargingSchedule"]["chargingRateUnit"] == "W"


def test_a_charger_without_smart_charging_is_counted_at_full_power(station):
    cp, session = allocate(station)
    ConfigurationKey.objects.create(
        charge_point=cp, key="SupportedFeatureProfiles", value="Core,FirmwareManagement"
    )
    # Offline: nothing can be sent; the unsupported one is recorded without sending.
    sent = dispatch.site_dispatch_sync(station_id=station.pk)
    assert sent == 0
    row = SessionAllocation.objects.get()
    assert row.state == SendState.UNSUPPORTED
    assert row.allocated_w == 11_040  # recomputed: it may draw its full power
    assert ChargerFallback.objects.get().state == SendState.UNSUPPORTED


def test_an_unreachable_charger_is_flagged_no_answer_and_counted_at_full_power(station):
    cp, session = allocate(station)
    cp.is_online = False
    cp.save()
    dispatch.site_dispatch_sync(station_id=station.pk)
    row = SessionAllocation.objects.get()
    assert row.state == SendState.NO_ANSWER
    assert row.detail == "ChargePointOffline"
    assert row.reason == "uncontrolled" and row.allocated_w == 11_040


def test_a_16_charger_gets_a_charge_point_max_profile_on_connector_0(station):
    cp, session = allocate(station)
    jobs, _ = dispatch._due(station.pk)
    job = next(job for job in jobs if job.kind == dispatch.MAXIMUM)
    command_validate(action="SetChargingProfile", payload=job.payload, version="1.6")
    profile = job.payload["csChargingProfiles"]
    assert job.payload["connectorId"] == 0
    assert profile["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert profile["chargingProfileKind"] == "Absolute"
    assert "transactionId" not in profile
    # Its own id, apart from the TxDefaultProfile's and the TxProfiles'.
    ids = {job.payload["csChargingProfiles"]["chargingProfileId"] for job in jobs}
    assert len(ids) == len(jobs) == 3
    # The site's 9 kW (no margin) is less than the charger's 11.04 kW: in watts, exactly.
    assert profile["chargingSchedule"]["chargingRateUnit"] == "W"
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 9000}
    ]


def test_a_201_station_gets_a_charging_station_max_profile_on_evse_0(station):
    cp, session = allocate(station, version="2.0.1", ocpp_tx="tx-1")
    jobs, _ = dispatch._due(station.pk)
    job = next(job for job in jobs if job.kind == dispatch.MAXIMUM)
    command_validate(action="SetChargingProfile", payload=job.payload, version="2.0.1")
    assert job.payload["evseId"] == 0
    profile = job.payload["chargingProfile"]
    assert profile["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert "transactionId" not in profile


def test_a_charger_taking_only_amperes_gets_its_cap_in_amperes(station):
    cp, session = allocate(station)
    ConfigurationKey.objects.create(
        charge_point=cp, key="ChargingScheduleAllowedChargingRateUnit", value="Current"
    )
    jobs, _ = dispatch._due(station.pk)
    profile = next(job for job in jobs if job.kind == dispatch.MAXIMUM).payload
    schedule = profile["csChargingProfiles"]["chargingSchedule"]
    assert schedule["chargingRateUnit"] == "A"
    # 9000 W / (3 x 230 V) = 13.04 A, rounded down.
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 13}]


def test_a_rejected_max_profile_is_flagged_and_the_session_profile_still_controls(station):
    cp, session = allocate(station)
    SessionAllocation.objects.update(state=SendState.ACCEPTED, sent_at=timezone.now())
    before = SessionAllocation.objects.get().allocated_w
    ChargerMaxProfile.objects.update(state=SendState.REJECTED, sent_at=timezone.now())
    services.site_recompute(station_id=station.pk, trigger="test")
    row = SessionAllocation.objects.get()
    assert before < 11_040  # the site limit binds
    assert row.reason != "uncontrolled" and row.allocated_w == before
    assert ChargerMaxProfile.objects.get().state == SendState.REJECTED  # flagged, asked again


def test_a_refused_session_profile_counts_at_full_power(station):
    cp, session = allocate(station)
    SessionAllocation.objects.update(state=SendState.REJECTED, sent_at=timezone.now())
    services.site_recompute(station_id=station.pk, trigger="test")
    row = SessionAllocation.objects.get()
    assert row.reason == "uncontrolled" and row.allocated_w == 11_040


def _smart_charging_ctrlr(cp, **variables):
    for name, (value, max_limit) in variables.items():
        variable = DeviceVariable.objects.create(
            charge_point=cp, component="SmartChargingCtrlr", name=name, max_limit=max_limit
        )
        if value is not None:
            VariableAttribute.objects.create(variable=variable, type="Actual", value=value)


def test_201_capabilities_come_from_the_device_model(station):
    cp, session = allocate(station, version="2.0.1", ocpp_tx="tx-2")
    _smart_charging_ctrlr(
        cp,
        ProfileStackLevel=(None, 0),
        RateUnit=("W", None),
        PeriodsPerSchedule=("24", None),
    )
    caps = dispatch.capabilities_of(cp.pk, "2.0.1")
    assert caps == dispatch.Capabilities(
        smart_charging=True, max_stack_level=0, units=("W",), max_periods=24
    )
    jobs, _ = dispatch._due(station.pk)
    profile = next(job for job in jobs if job.kind == dispatch.SESSION).payload["chargingProfile"]
    assert profile["stackLevel"] == 0
    assert profile["chargingSchedule"][0]["chargingRateUnit"] == "W"


def test_a_201_station_with_smart_charging_disabled_counts_at_full_power(station):
    cp, session = allocate(station, version="2.0.1", ocpp_tx="tx-3")
    _smart_charging_ctrlr(cp, Enabled=("false", None))
    assert dispatch.site_dispatch_sync(station_id=station.pk) == 0
    row = SessionAllocation.objects.get()
    assert row.state == SendState.UNSUPPORTED and row.allocated_w == 11_040


def test_a_charger_taking_no_schedule_of_one_period_gets_no_profile(station):
    cp, session = allocate(station)
    ConfigurationKey.objects.create(charge_point=cp, key="ChargingScheduleMaxPeriods", value="0")
    jobs, unsupported = dispatch._due(station.pk)
    assert jobs == [] and len(unsupported) == 3
