"""The 2.0.1 charging profile <-> the domain's ChargingProfileSpec (commands.profiles_201)."""

from datetime import UTC, datetime
from decimal import Decimal

from ocpp_consumer.commands.profiles_201 import (
    charging_profile_from_201,
    charging_profile_to_201,
    set_charging_profile_problems,
)
from ocpp_consumer.framing import V201, validate_request

STATION_MAX = {
    "id": 4,
    "stackLevel": 3,
    "chargingProfilePurpose": "ChargingStationMaxProfile",
    "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily",
    "validFrom": "2026-12-01T00:00:00Z",
    "chargingSchedule": [
        {
            "id": 4,
            "startSchedule": "2026-12-01T06:00:00Z",
            "duration": 86400,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 22000},
                {"startPeriod": 28800, "limit": 11000.5, "numberPhases": 3},
            ],
            "minChargingRate": 1400,
        }
    ],
}


def test_a_profile_reads_into_the_neutral_spec_and_back_unchanged():
    spec = charging_profile_from_201(STATION_MAX)
    assert (spec.purpose, spec.kind, spec.recurrency_kind, spec.charging_profile_id) == (
        "ChargePointMaxProfile",
        "Recurring",
        "Daily",
        4,
    )
    assert spec.valid_from == datetime(2026, 12, 1, tzinfo=UTC)
    assert [(p.start_period, p.limit, p.number_phases) for p in spec.periods] == [
        (0, Decimal("22000"), None),
        (28800, Decimal("11000.5"), 3),
    ]
    assert charging_profile_to_201(spec) == STATION_MAX
    validate_request("SetChargingProfile", {"evseId": 0, "chargingProfile": STATION_MAX}, V201)


def test_a_tx_profile_keeps_the_chargers_transaction_id():
    tx_profile = {**STATION_MAX, "chargingProfilePurpose": "TxProfile", "transactionId": "T-1"}
    spec = charging_profile_from_201(tx_profile)
    assert (spec.purpose, spec.charger_transaction_id, spec.transaction_id) == (
        "TxProfile",
        "T-1",
        None,
    )
    assert charging_profile_to_201(spec) == tx_profile
    assert set_charging_profile_problems({"evseId": 1, "chargingProfile": tx_profile}) == []


def test_the_domain_rules_name_the_2_0_1_fields():
    broken = {
        **STATION_MAX,
        "chargingProfileKind": "Recurring",
        "recurrencyKind": "Daily",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 60, "limit": 16},
                    {"startPeriod": 30, "limit": 8},
                ],
            }
        ],
    }
    assert set_charging_profile_problems({"evseId": 2, "chargingProfile": broken}) == [
        "evse_id: a ChargePointMaxProfile applies to connector 0",
        "charging_profile.charging_schedule.charging_schedule_period: must start at 0",
        "charging_profile.charging_schedule.charging_schedule_period: start periods must increase",
    ]
