"""Send the stored allocation to the chargers: SetChargingProfile through the command path.

An adapter: it reads what services.site_recompute decided (rows `pending`,
and rows whose charger rejected or did not answer, again after
LOADMGMT_RETRY_SECONDS), turns each into the charger's OCPP version's
SetChargingProfile, sends it with `ocpp_consumer.commands.command_send`
(journalled as every command is) and records the answer. A charger that
rejects or does not answer is counted at its full power from then on, so
the site is recomputed at once and the others' profiles are sent again.

Order matters for the fuse: decreases are sent (and answered) before
increases, so that the sum stays under the limit in between.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.utils import timezone

from devicemodel.selectors import device_variables
from ocpp_consumer.commands import (
    CommandError,
    CommandsUnavailable,
    InvalidPayload,
    command_send,
)
from ocpp_consumer.commands.profiles_201 import charging_profile_to_201
from ocpp_consumer.models import CommandStatus
from stations.choices import OcppVersion
from stations.models import ConfigurationKey
from stations.services.smart_charging import (
    CHARGE_POINT_MAX,
    TX_DEFAULT,
    TX_PROFILE,
    ChargingProfileSpec,
    SchedulePeriod,
)

from . import profile_ids, services
from .models import (
    UNCONTROLLED_STATES,
    ChargerFallback,
    ChargerMaxProfile,
    ClearState,
    SendState,
    SessionAllocation,
)
from .selectors import clearances_due, due_q, site_limit_get

logger = logging.getLogger(__name__)

ACTION = "SetChargingProfile"
CLEAR = "ClearChargingProfile"
V201 = OcppVersion.V201
# Profiles sent to one site at once (each waits for its charger's answer).
CONCURRENCY = 20
# Rounds of "a charger failed: recompute and send again" per dispatch.
MAX_ROUNDS = 3
NOT_SUPPORTED = ("NotSupported", "NotImplemented")


@dataclass(frozen=True)
class Capabilities:
    """What a charger told about its smart charging, where known.

    1.6: its configuration keys (GetConfiguration); 2.0.1: its device model's
    SmartChargingCtrlr variables (GetVariables, NotifyReport).
    """

    smart_charging: bool = True
    max_stack_level: int | None = None
    units: tuple[str, ...] = ("A", "W")
    max_periods: int | None = None


def _whole(text) -> int | None:
    text = "" if text is None else str(text).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return int(text) if text.isdigit() else None


def capabilities_of(charge_point_pk: int, version: str = OcppVersion.V16) -> Capabilities:
    if version == V201:
        return _capabilities_201(charge_point_pk)
    keys = dict(
        ConfigurationKey.objects.filter(
            charge_point_id=charge_point_pk,
            key__in=(
                "SupportedFeatureProfiles",
                "ChargeProfileMaxStackLevel",
                "ChargingScheduleAllowedChargingRateUnit",
                "ChargingScheduleMaxPeriods",
            ),
        ).values_list("key", "value")
    )
    profiles = keys.get("SupportedFeatureProfiles")
    smart = profiles is None or "smartcharging" in profiles.replace(" ", "").lower()
    level = keys.get("ChargeProfileMaxStackLevel")
    units_text = (keys.get("ChargingScheduleAllowedChargingRateUnit") or "").lower()
    units = tuple(
        unit for unit, word in (("A", "current"), ("W", "power")) if word in units_text
    ) or ("A", "W")
    return Capabilities(
        smart_charging=smart,
        max_stack_level=_whole(level),
        units=units,
        max_periods=_whole(keys.get("ChargingScheduleMaxPeriods")),
    )


# 2.0.1 names these by their configuration names (ChargingProfileMaxStackLevel,
# ChargingScheduleChargingRateUnit) and, in the device model, by the variables
# ProfileStackLevel (its maxLimit) and RateUnit; both are read.
_STACK_LEVEL_201 = ("chargingprofilemaxstacklevel", "profilestacklevel")
_RATE_UNIT_201 = ("chargingschedulechargingrateunit", "rateunit")


def _capabilities_201(charge_point_pk: int) -> Capabilities:
    """A 2.0.1 station's SmartChargingCtrlr as its device model reported it."""
    values: dict[str, str] = {}
    max_limits: dict[str, float] = {}
    for variable in device_variables(
        charge_point_pk=charge_point_pk, component="SmartChargingCtrlr"
    ):
        if variable.evse_id not in (None, 0):
            continue  # the station's own controller, not one EVSE's
        name = variable.name.lower()
        actual = next(
            (a.value for a in variable.attributes.all() if a.type == "Actual" and a.value),
            None,
        )
        if actual is not None:
            values[name] = actual
        if variable.max_limit is not None:
            max_limits[name] = variable.max_limit
    off = any(values.get(name, "").lower() == "false" for name in ("enabled", "available"))
    level = next(
        (
            found
            for name in _STACK_LEVEL_201
            for found in (_whole(values.get(name)), _whole(max_limits.get(name)))
            if found is not None
        ),
        None,
    )
    unit_text = next((values[name] for name in _RATE_UNIT_201 if name in values), "")
    members = {part.strip().upper() for part in unit_text.split(",")}
    units = tuple(unit for unit in ("A", "W") if unit in members) or ("A", "W")
    return Capabilities(
        smart_charging=not off,
        max_stack_level=level,
        units=units,
        max_periods=_whole(values.get("periodsperschedule")),
    )


def _fits(spec: ChargingProfileSpec, caps: Capabilities) -> bool:
    """Whether the charger takes a schedule of this many periods (ours have one)."""
    return caps.max_periods is None or len(spec.periods) <= caps.max_periods


def _stack_level(caps: Capabilities) -> int:
    level = settings.LOADMGMT_STACK_LEVEL
    return level if caps.max_stack_level is None else min(level, caps.max_stack_level)


def _limit(watts: int, phases: int, voltage: int, unit: str) -> Decimal:
    if unit == "W":
        return Decimal(watts)
    amps = Decimal(watts) / Decimal(phases * voltage)
    return amps.quantize(Decimal("0.1"), rounding=ROUND_DOWN)


def _unit(caps: Capabilities, is_dc: bool) -> str:
    # Amperes where the charger takes them (AC: what the EV's onboard charger
    # obeys directly); watts for DC or where only watts are allowed.
    if is_dc:
        return "W" if "W" in caps.units else "A"
    return "A" if "A" in caps.units else "W"


def _number(value: Decimal):
    return int(value) if value == value.to_integral_value() else float(value)


def payload_16(spec: ChargingProfileSpec, connector_id: int) -> dict:
    period = spec.periods[0]
    entry = {"startPeriod": 0, "limit": _number(period.limit)}
    if period.number_phases is not None:
        entry["numberPhases"] = period.number_phases
    profile = {
        "chargingProfileId": spec.charging_profile_id,
        "stackLevel": spec.stack_level,
        "chargingProfilePurpose": spec.purpose,
        "chargingProfileKind": spec.kind,
        "chargingSchedule": {
            "chargingRateUnit": spec.charging_rate_unit,
            "chargingSchedulePeriod": [entry],
            "startSchedule": spec.start_schedule.isoformat().replace("+00:00", "Z"),
        },
    }
    if spec.transaction_id is not None:
        profile["transactionId"] = spec.transaction_id
    return {"connectorId": connector_id, "csChargingProfiles": profile}


def payload_201(spec: ChargingProfileSpec, evse_id: int) -> dict:
    return {"evseId": evse_id, "chargingProfile": charging_profile_to_201(spec)}


SESSION, FALLBACK, MAXIMUM = "session", "fallback", "max"


@dataclass(frozen=True)
class Job:
    """One SetChargingProfile to send, and where its answer goes."""

    charge_point_id: str
    charge_point_pk: int
    payload: dict
    limit: Decimal
    unit: str
    change_w: int  # negative: a decrease (sent first)
    transaction_id: int | None = None  # a session's TxProfile
    kind: str = SESSION  # or the charger's TxDefaultProfile, or its maximum profile


def _session_job(row: SessionAllocation, retry: bool, min_current_a: Decimal) -> Job | None:
    tx = row.transaction
    cp = tx.charge_point
    caps = capabilities_of(cp.pk, cp.ocpp_version)
    if not caps.smart_charging:
        return None
    is_dc = tx.connector.power_type == "DC"
    unit = _unit(caps, is_dc)
    watts = row.allocated_w
    if retry:
        # Asked again after a failure: offer its minimum until it follows profiles.
        watts = int(min_current_a * row.phases * row.site.voltage_v)
    limit = _limit(watts, row.phases, row.site.voltage_v, unit)
    spec = ChargingProfileSpec(
        charging_profile_id=profile_ids.tx_profile_id(tx.connector.connector_id),
        stack_level=_stack_level(caps),
        purpose=TX_PROFILE,
        kind="Absolute",
        charging_rate_unit=unit,
        periods=(
            SchedulePeriod(
                start_period=0, limit=limit, number_phases=None if is_dc else row.phases
            ),
        ),
        transaction_id=None if cp.ocpp_version == V201 else tx.pk,
        charger_transaction_id=tx.ocpp_transaction_id if cp.ocpp_version == V201 else None,
        start_schedule=timezone.now().replace(microsecond=0),
    )
    if not _fits(spec, caps):
        return None
    connector = tx.connector.connector_id
    build = payload_201 if cp.ocpp_version == V201 else payload_16
    payload = build(spec, connector)
    previous = 0 if row.sent_limit is None else _watts(row.sent_limit, row.sent_unit, row)
    return Job(
        cp.charge_point_id, cp.pk, payload, limit, unit, watts - previous, transaction_id=tx.pk
    )


def _watts(limit: Decimal, unit: str, row: SessionAllocation) -> int:
    return int(limit if unit == "W" else limit * row.phases * row.site.voltage_v)


def _fallback_job(row: ChargerFallback) -> Job | None:
    cp = row.charge_point
    caps = capabilities_of(cp.pk, cp.ocpp_version)
    if not caps.smart_charging:
        return None
    unit = "A" if "A" in caps.units else "W"
    limit = _limit(row.limit_w, 3, row.site.voltage_v, unit)
    spec = ChargingProfileSpec(
        charging_profile_id=profile_ids.fallback_profile_id(),
        stack_level=_stack_level(caps),
        purpose=TX_DEFAULT,
        kind="Absolute",
        charging_rate_unit=unit,
        periods=(SchedulePeriod(start_period=0, limit=limit),),
        start_schedule=timezone.now().replace(microsecond=0),
    )
    if not _fits(spec, caps):
        return None
    payload = payload_201(spec, 0) if cp.ocpp_version == V201 else payload_16(spec, 0)
    # A fallback only ever makes a charger safer: sent with the decreases.
    return Job(cp.charge_point_id, cp.pk, payload, limit, unit, change_w=-1, kind=FALLBACK)


def _max_job(row: ChargerMaxProfile) -> Job | None:
    """The charger's ChargePointMaxProfile (2.0.1: ChargingStationMaxProfile).

    Connector (EVSE) 0, Absolute from now on, no transaction: it caps the
    charger as a whole whatever its session profiles say. Its own purpose
    has its own stack levels, so LOADMGMT_STACK_LEVEL collides with nothing.
    """
    cp = row.charge_point
    caps = capabilities_of(cp.pk, cp.ocpp_version)
    if not caps.smart_charging:
        return None
    # Watts cap the charger exactly whatever its phases; amperes where it takes only those.
    unit = "W" if "W" in caps.units else "A"
    limit = Decimal(row.limit_w) if unit == "W" else row.current_a
    spec = ChargingProfileSpec(
        charging_profile_id=profile_ids.max_profile_id(),
        stack_level=_stack_level(caps),
        purpose=CHARGE_POINT_MAX,
        kind="Absolute",
        charging_rate_unit=unit,
        periods=(
            SchedulePeriod(
                start_period=0,
                limit=limit,
                number_phases=1 if unit == "A" and row.phases == 1 else None,
            ),
        ),
        start_schedule=timezone.now().replace(microsecond=0),
    )
    if not _fits(spec, caps):
        return None
    payload = payload_201(spec, 0) if cp.ocpp_version == V201 else payload_16(spec, 0)
    # Never below what the sessions were given (it is the most the site can give
    # the charger): a decrease goes first, an increase harms nothing either.
    return Job(cp.charge_point_id, cp.pk, payload, limit, unit, change_w=-1, kind=MAXIMUM)


def _due(station_id: int) -> tuple[list[Job], list[tuple[str, int]]]:
    """The profiles to send now at the site of a station, and those without smart charging."""
    site = site_limit_get(station_id=station_id)
    if site is None or not site.enabled:
        return [], []
    due = due_q()
    jobs, unsupported = [], []
    sessions = SessionAllocation.objects.filter(due, site=site).select_related(
        "site", "transaction__charge_point", "transaction__connector"
    )
    for row in sessions:
        job = _session_job(row, row.state in UNCONTROLLED_STATES, row.site.min_current_a)
        if job is None:
            unsupported.append((SESSION, row.transaction_id))
        else:
            jobs.append(job)
    for model, build, kind in (
        (ChargerFallback, _fallback_job, FALLBACK),
        (ChargerMaxProfile, _max_job, MAXIMUM),
    ):
        for row in model.objects.filter(due, site=site).select_related("site", "charge_point"):
            job = build(row)
            if job is None:
                unsupported.append((kind, row.charge_point_id))
            else:
                jobs.append(job)
    return jobs, unsupported


def _record_unsupported(unsupported: list[tuple[str, int]]) -> bool:
    lost = False
    now = timezone.now()
    detail = "no smart charging (or not this many periods) reported"
    for kind, pk in unsupported:
        if kind == SESSION:
            lost |= services.allocation_outcome_record(
                transaction_id=pk,
                state=SendState.UNSUPPORTED,
                limit=None,
                unit="",
                command_id=None,
                detail=detail,
                sent_at=now,
            )
        elif kind == MAXIMUM:
            lost |= services.max_profile_outcome_record(
                charge_point_pk=pk,
                state=SendState.UNSUPPORTED,
                command_id=None,
                detail=detail,
                sent_at=now,
            )
        else:
            services.fallback_outcome_record(
                charge_point_pk=pk,
                state=SendState.UNSUPPORTED,
                command_id=None,
                detail=detail,
                sent_at=now,
            )
    return lost


async def _send(job: Job, semaphore: asyncio.Semaphore) -> tuple[str, int | None, str]:
    """(state, command id, detail) of one SetChargingProfile."""
    async with semaphore:
        try:
            command = await command_send(
                charge_point_id=job.charge_point_id,
                action=ACTION,
                payload=job.payload,
                source="loadmgmt",
            )
        except InvalidPayload as exc:
            return SendState.REJECTED, None, f"invalid profile: {exc}"
        except CommandsUnavailable as exc:
            return SendState.NO_ANSWER, None, f"commands unavailable: {exc}"
        except CommandError as exc:
            command = exc.command
            return SendState.NO_ANSWER, getattr(command, "pk", None), f"{type(exc).__name__}"
    if command.status == CommandStatus.ANSWERED:
        status = (command.response or {}).get("status", "")
        if status == "Accepted":
            return SendState.ACCEPTED, command.pk, ""
        return SendState.REJECTED, command.pk, f"answered {status or 'without a status'}"
    if command.error_code in NOT_SUPPORTED:
        return SendState.UNSUPPORTED, command.pk, f"CALLERROR {command.error_code}"
    return SendState.REJECTED, command.pk, f"{command.status} {command.error_code}".strip()


def _record(job: Job, outcome: tuple[str, int | None, str], sent_at) -> bool:
    state, command_id, detail = outcome
    if job.kind == MAXIMUM:
        return services.max_profile_outcome_record(
            charge_point_pk=job.charge_point_pk,
            state=state,
            command_id=command_id,
            detail=detail,
            sent_at=sent_at,
        )
    if job.kind == FALLBACK:
        services.fallback_outcome_record(
            charge_point_pk=job.charge_point_pk,
            state=state,
            command_id=command_id,
            detail=detail,
            sent_at=sent_at,
        )
        return False
    return services.allocation_outcome_record(
        transaction_id=job.transaction_id,
        state=state,
        limit=job.limit,
        unit=job.unit,
        command_id=command_id,
        detail=detail,
        sent_at=sent_at,
    )


async def _send_all(jobs: list[Job]) -> bool:
    """Decreases first, then increases; True when a charger was lost from control."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    lost = False
    for wave in (
        [job for job in jobs if job.change_w < 0],
        [job for job in jobs if job.change_w >= 0],
    ):
        if not wave:
            continue
        sent_at = timezone.now()
        outcomes = await asyncio.gather(*(_send(job, semaphore) for job in wave))
        for job, outcome in zip(wave, outcomes, strict=True):
            lost |= await sync_to_async(_record)(job, outcome, sent_at)
    return lost


async def site_dispatch(*, station_id: int) -> int:
    """Send what is due at a station, again while chargers drop out; return how many were sent."""
    sent = 0
    for _round in range(MAX_ROUNDS):
        jobs, unsupported = await sync_to_async(_due)(station_id)
        lost = await sync_to_async(_record_unsupported)(unsupported)
        if jobs:
            lost |= await _send_all(jobs)
            sent += len(jobs)
        if not lost:
            break
        logger.warning("load management: a charger at station %s left control", station_id)
        await sync_to_async(services.site_recompute)(
            station_id=station_id, trigger=services.Trigger.CHARGER_ANSWERED
        )
    return sent


site_dispatch_sync = async_to_sync(site_dispatch)


def _clear_payload(version: str, profile_id: int) -> dict:
    return {"chargingProfileId": profile_id} if version == V201 else {"id": profile_id}


async def _clear_one(charge_point_id: str, version: str, profile_id: int) -> str:
    """The charger's answer to clearing one profile: Accepted, Unknown, or why not."""
    try:
        command = await command_send(
            charge_point_id=charge_point_id,
            action=CLEAR,
            payload=_clear_payload(version, profile_id),
            source="loadmgmt",
        )
    except CommandsUnavailable:
        return str(ClearState.NO_ANSWER)
    except CommandError as exc:
        return f"{ClearState.NO_ANSWER}: {type(exc).__name__}"
    except InvalidPayload as exc:
        return f"invalid: {exc}"
    if command.status == CommandStatus.ANSWERED:
        return (command.response or {}).get("status") or "answered without a status"
    return f"{command.status} {command.error_code}".strip()


def _clear_state(answers: dict[str, str]) -> str:
    if any(answer.startswith(ClearState.NO_ANSWER) for answer in answers.values()):
        return ClearState.NO_ANSWER  # asked again later (and when it reconnects)
    if any(answer not in ("Accepted", "Unknown") for answer in answers.values()):
        return ClearState.REJECTED
    if all(answer == "Unknown" for answer in answers.values()):
        return ClearState.UNKNOWN
    return ClearState.CLEARED


async def clearances_dispatch() -> int:
    """Send every due ClearChargingProfile (one per profile id we installed); how many chargers."""
    clearances = await sync_to_async(lambda: list(clearances_due()))()
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def clear(clearance):
        cp = clearance.charge_point
        async with semaphore:
            sent_at = timezone.now()
            answers = {
                str(profile_id): await _clear_one(cp.charge_point_id, cp.ocpp_version, profile_id)
                for profile_id in clearance.profile_ids
            }
        state = _clear_state(answers)
        detail = "; ".join(f"{key}: {value}" for key, value in answers.items())
        await sync_to_async(services.clearance_outcome_record)(
            clearance_id=clearance.pk, state=state, answers=answers, detail=detail, sent_at=sent_at
        )

    await asyncio.gather(*(clear(clearance) for clearance in clearances))
    return len(clearances)


clearances_dispatch_sync = async_to_sync(clearances_dispatch)
