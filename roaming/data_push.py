"""Pushing changes of our locations and tariffs to partners' Receiver interfaces.

A sweep (roaming.tasks.push_data_changes, every OCPI_DATA_PUSH_SECONDS)
builds the objects the Sender interface serves (the same serializers as
GET) and compares them, for each partner with a Receiver interface, with
the copy that partner last received (PushedCopy). Only differences are
sent, in the smallest form OCPI offers:

- Locations: a changed connector is PATCHed (its changed fields and
  `last_updated`); more changes in one EVSE PUT that EVSE; anything else (the
  station itself, EVSEs added or removed, several EVSEs) PUTs the whole
  Location. An EVSE that is gone (its charge point removed or no longer
  accepted) is sent with status REMOVED, a location that is gone with all
  its EVSEs REMOVED: OCPI has no DELETE for locations.
- Tariffs: PUT when new or changed, DELETE when gone (deleted, expired,
  reserved for an id tag group).

Why a comparison rather than a reaction to each edit: stations, charge
points, connectors and tariffs are edited through the console and the API,
and tariffs expire by the clock, none of which is a domain event. The
comparison finds every change however it was made, sends a burst of edits
as one request per object, and is durable by construction: the copy is
written only after the partner accepted the push, so a push that failed
is found again by the next run. EVSE status is not compared (it is pushed
within seconds by roaming.push).

What a partner pulls from our Sender interface (GET) is its copy as well
(copies_record_pulled): a partner that synced by GET after registering, as
OCPI has it, gets only later changes; one that never pulled is sent every
object once.

A run builds only the locations that may differ from a partner's copies
(roaming.data_push_scope: what was saved since its last complete run, and
EVSEs added or gone), not every location each time.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .choices import Direction, PartyStatus
from .client import PartnerError, ocpi_call
from .credential_tokens import token_decrypt
from .data_push_scope import (
    REMOVED,
    PartnerScope,
    copies_of,
    partner_mark,
    partner_mark_set,
    partner_scope,
    published_evses,
    tariffs_in_force,
)
from .formats import ocpi_datetime
from .locations import TariffChooser, location_object, location_queryset, locations_load
from .models import Exchange, Party, PushedCopy
from .tariffs import tariff_object, tariff_queryset_dated, tariff_versions_refresh

logger = logging.getLogger(__name__)

LOCATIONS, TARIFFS = "locations", "tariffs"
# Stations loaded (with their charge points and connectors) at a time.
LOAD_CHUNK = 200
# A failing partner is left alone for growing pauses, up to this long.
BACKOFF_MAX_SECONDS = 3600
# OCPI status of an unknown Location, EVSE or Connector (a partner's answer).
UNKNOWN_LOCATION = 2003


class OutOfTime(Exception):
    """The run's time is up: the rest goes with the next run."""


@dataclass(frozen=True)
class Call:
    """One request to a partner's Receiver: method, URL below the module's base, body."""

    method: str
    path: str
    body: dict | None


# --- what partners see now ---------------------------------------------------------


def locations_now(
    *, location_ids: Iterable[str] | None = None, tariffs: TariffChooser | None = None
) -> dict[str, dict]:
    """The published locations as GET serves them, by id: all, or those of `location_ids`."""
    queryset = location_queryset()
    if location_ids is not None:
        queryset = queryset.filter(pk__in=[int(pk) for pk in location_ids if pk.isdigit()])
    rows = list(queryset.values_list("pk", "ocpi_last_updated"))
    tariffs = tariffs or TariffChooser()
    objects = {}
    for start in range(0, len(rows), LOAD_CHUNK):
        for station in locations_load(rows[start : start + LOAD_CHUNK]):
            location = location_object(station, tariffs=tariffs)
            objects[location["id"]] = location
    return objects


def tariffs_now(*, now: datetime) -> dict[str, dict]:
    """Every published tariff as GET serves it, by id (after moving changed ones' last_updated)."""
    tariff_versions_refresh(now=now)
    return {str(tariff.pk): tariff_object(tariff) for tariff in tariff_queryset_dated()}


# --- locations: what to send for one location ----------------------------------------


def location_calls(
    *, had: dict | None, has: dict | None, now_text: str
) -> tuple[list[Call], dict | None]:
    """The requests that bring the partner's copy `had` to `has`, and the copy afterwards.

    `had` is None when the partner has none, `has` when the location is no
    longer published.
    """
    if has is None:
        if had is None or all(evse["status"] == REMOVED for evse in had.get("evses", [])):
            return [], had
        withdrawn = {
            **had,
            "evses": [_removed(evse, now_text) for evse in had.get("evses", [])],
            "last_updated": now_text,
        }
        return [Call("PUT", "", withdrawn)], withdrawn
    current = _with_removed_evses(has, had, now_text)
    if had is None:
        return [Call("PUT", "", current)], current
    old, new = _shape(had), _shape(current)
    if old == new:
        return [], had
    # Changed below: timestamps are moved on a copy (`has` is every partner's).
    current = copy.deepcopy(current)
    changed = [uid for uid in new["evses"] if new["evses"].get(uid) != old["evses"].get(uid)]
    if (
        old["location"] != new["location"]
        or old["evses"].keys() != new["evses"].keys()
        or len(changed) > 1
    ):
        return [Call("PUT", "", _later_than(current, had, now_text))], current
    uid = changed[0]
    evse = next(e for e in current["evses"] if e["uid"] == uid)
    had_evse = next(e for e in had["evses"] if e["uid"] == uid)
    old_evse, new_evse = old["evses"][uid], new["evses"][uid]
    if old_evse["evse"] != new_evse["evse"] or (
        old_evse["connectors"].keys() != new_evse["connectors"].keys()
    ):
        return [Call("PUT", f"/{uid}", _later_than(evse, had_evse, now_text))], current
    connectors = [
        cid
        for cid in new_evse["connectors"]
        if new_evse["connectors"][cid] != old_evse["connectors"][cid]
    ]
    if len(connectors) > 1:
        return [Call("PUT", f"/{uid}", _later_than(evse, had_evse, now_text))], current
    connector_id = connectors[0]
    connector = next(c for c in evse["connectors"] if c["id"] == connector_id)
    before = next(c for c in had_evse["connectors"] if c["id"] == connector_id)
    _later_than(connector, before, now_text)
    path = f"/{uid}/{connector_id}"
    if before.keys() - connector.keys():
        # A field the connector no longer has: PATCH cannot remove one, PUT replaces it.
        return [Call("PUT", path, connector)], current
    patch = {
        key: value
        for key, value in connector.items()
        if key == "last_updated" or before.get(key) != value
    }
    return [Call("PATCH", path, patch)], current


def _later_than(obj: dict, had: dict, now_text: str) -> dict:
    """`obj` (changed), with a last_updated later than the partner's copy `had` has.

    Some changes do not move our timestamps (a connector's tariff_ids when a
    tariff starts or expires); a receiver that keeps the newer of two
    versions would otherwise ignore them. Changes `obj` in place.
    """
    if obj.get("last_updated", "") <= had.get("last_updated", ""):
        obj["last_updated"] = now_text
    return obj


def _removed(evse: dict, now_text: str) -> dict:
    if evse["status"] == REMOVED:
        return evse
    return {**evse, "status": REMOVED, "last_updated": now_text}


def _with_removed_evses(has: dict, had: dict | None, now_text: str) -> dict:
    """The location with the EVSEs the partner has and we no longer do, as REMOVED.

    OCPI asks that an EVSE be removed by its status, never left out; the
    location's last_updated moves with a newly removed one.
    """
    if had is None:
        return has
    present = {evse["uid"] for evse in has.get("evses", [])}
    gone = [evse for evse in had.get("evses", []) if evse["uid"] not in present]
    if not gone:
        return has
    newly_gone = any(evse["status"] != REMOVED for evse in gone)
    return {
        **has,
        "evses": [*has.get("evses", []), *(_removed(evse, now_text) for evse in gone)],
        "last_updated": now_text if newly_gone else has["last_updated"],
    }


def _shape(location: dict) -> dict:
    """What a change of location data is compared on: no timestamps, no live status.

    Status changes are pushed by roaming.push; only REMOVED (an EVSE gone or
    back) is a change of data.
    """
    evses = {}
    for evse in location.get("evses", []):
        connectors = {
            c["id"]: {k: v for k, v in c.items() if k != "last_updated"}
            for c in evse.get("connectors", [])
        }
        fields = {
            k: v for k, v in evse.items() if k not in ("last_updated", "status", "connectors")
        }
        evses[evse["uid"]] = {
            "evse": {**fields, "removed": evse["status"] == REMOVED},
            "connectors": connectors,
        }
    fields = {k: v for k, v in location.items() if k not in ("last_updated", "evses")}
    return {"location": fields, "evses": evses}


# --- tariffs: what to send for one tariff --------------------------------------------


def tariff_calls(*, had: dict | None, has: dict | None) -> tuple[list[Call], dict | None]:
    """The requests that bring the partner's copy of a tariff up to date, and the copy after."""
    if has is None:
        if had is None:
            return [], None
        return [Call("DELETE", "", None)], None
    if had is None:
        return [Call("PUT", "", has)], has
    if _without_last_updated(had) == _without_last_updated(has):
        return [], had
    return [Call("PUT", "", has)], has


def _without_last_updated(tariff: dict) -> dict:
    return {key: value for key, value in tariff.items() if key != "last_updated"}


# --- one partner ---------------------------------------------------------------------


def partners_receiving_data() -> list[Party]:
    """Registered partners with a Locations or Tariffs Receiver interface."""
    return [
        party
        for party in Party.objects.filter(status=PartyStatus.REGISTERED)
        if party.outgoing_token_encrypted
        and (party.endpoint_url(LOCATIONS, "RECEIVER") or party.endpoint_url(TARIFFS, "RECEIVER"))
    ]


def partner_backing_off(party: Party, *, now: datetime) -> bool:
    """Whether a partner whose last calls all failed is to be left alone a while longer.

    Read from the journal (every call to a partner is one of its rows): after
    n failures in a row the pause is 1, 3, 7 ... sweep intervals, at most
    BACKOFF_MAX_SECONDS, so that a partner that is down costs ever fewer
    timeouts and is found again soon after it is back.
    """
    recent = (
        Exchange.objects.filter(party=party, direction=Direction.OUTGOING)
        .order_by("-created_at", "-id")
        .values_list("error", "created_at")[:12]
    )
    failures, last_failure = 0, None
    for error, created_at in recent:
        if not error:
            break
        failures += 1
        last_failure = last_failure or created_at
    if failures < 2:
        return False
    pause = min(settings.OCPI_DATA_PUSH_SECONDS * (2 ** (failures - 1) - 1), BACKOFF_MAX_SECONDS)
    return now < last_failure + timedelta(seconds=pause)


def party_data_push(
    party: Party,
    *,
    locations: dict[str, dict],
    location_ids: Iterable[str],
    copies: dict[tuple[str, str], PushedCopy],
    tariffs: dict[str, dict],
    now: datetime,
    deadline: float = float("inf"),
) -> Counter:
    """Bring one partner's copies up to date; the requests sent, by method.

    `location_ids` are the locations compared (its scope: a published one
    missing from `locations` is one withdrawn), `copies` the partner's.

    A partner that cannot be used (no answer, 5xx, our token refused)
    raises PartnerError at once: the rest waits for the next run, so a
    partner that is down costs one timeout a run. An object the partner
    rejects (another 4xx, an OCPI error) is skipped and tried again next
    run, without holding up the others; a partner that no longer knows a
    location gets all of it. New tariffs go first and removed ones last, so
    that the partner knows every tariff a connector names.
    """
    token = token_decrypt(party.outgoing_token_encrypted)
    now_text = ocpi_datetime(now)
    sent: Counter = Counter()
    tariffs_url = party.endpoint_url(TARIFFS, "RECEIVER")
    locations_url = party.endpoint_url(LOCATIONS, "RECEIVER")

    def send(base: str, call: Call) -> None:
        if time.monotonic() > deadline:
            raise OutOfTime
        url = f"{base.rstrip('/')}{call.path}"
        ocpi_call(method=call.method, url=url, token=token, party=party, body=call.body)
        sent[call.method] += 1

    def push(module: str, base: str, object_id: str, calls: list[Call], after: dict | None):
        for call in calls:
            try:
                send(base, call)
            except PartnerError as exc:
                if _partner_unusable(exc):
                    raise
                unknown = exc.http_status == 404 or exc.status_code == UNKNOWN_LOCATION
                if unknown and call.method == "DELETE":
                    sent[call.method] += 1  # deleting what the partner does not have: done
                elif unknown and call.path and after is not None:
                    # It lost the location: all of it (once: a PUT has no path below).
                    return push(module, base, object_id, [Call("PUT", "", after)], after)
                else:
                    sent["rejected"] += 1
                    logger.warning("%s rejected %s %s: %s", party, module, object_id, exc)
                    return
        _copy_keep(party, module, object_id, copies.get((module, object_id)), after, now)

    if tariffs_url:
        for tariff_id, tariff in tariffs.items():
            had = _body(copies.get((TARIFFS, tariff_id)))
            calls, after = tariff_calls(had=had, has=tariff)
            push(TARIFFS, _owned_url(tariffs_url, tariff), tariff_id, calls, after)
    if locations_url:
        for location_id in sorted(location_ids, key=_natural):
            has = locations.get(location_id)
            had = _body(copies.get((LOCATIONS, location_id)))
            calls, after = location_calls(had=had, has=has, now_text=now_text)
            owner = after or has or had
            push(LOCATIONS, _owned_url(locations_url, owner), location_id, calls, after)
    if tariffs_url:
        for module, tariff_id in list(copies):
            if module == TARIFFS and tariff_id not in tariffs:
                had = copies[(module, tariff_id)].body
                calls, after = tariff_calls(had=had, has=None)
                push(TARIFFS, _owned_url(tariffs_url, had), tariff_id, calls, after)
    return sent


def _partner_unusable(exc: PartnerError) -> bool:
    """A failure of the partner as a whole rather than of one object."""
    return exc.http_status is None or exc.http_status >= 500 or exc.http_status in (401, 403, 429)


def _owned_url(base: str, obj: dict) -> str:
    """The Receiver URL of a CPO-owned object: {base}/{country_code}/{party_id}/{id}."""
    return f"{base.rstrip('/')}/{obj['country_code']}/{obj['party_id']}/{obj['id']}"


def _body(copy_row: PushedCopy | None) -> dict | None:
    return copy_row.body if copy_row is not None else None


def _natural(object_id: str):
    return (0, int(object_id), "") if object_id.isdigit() else (1, 0, object_id)


def _copy_keep(
    party: Party, module: str, object_id: str, row: PushedCopy | None, body: dict | None, now
) -> None:
    """Store the partner's copy as it is now (after a successful push, or a first sight)."""
    if body is None:
        if row is not None:
            row.delete()
        return
    if row is not None and row.body == body:
        return
    PushedCopy.objects.update_or_create(
        party=party,
        module=module,
        object_id=object_id,
        defaults={"body": copy.deepcopy(body), "pushed_at": now},
    )


def location_copy_record(party: Party, location: dict) -> None:
    """Note that a partner received this whole location (roaming.push's PUT)."""
    copies_record_pulled(party, LOCATIONS, [location])


def copies_record_pulled(party: Party | None, module: str, objects: list[dict]) -> None:
    """Note what a partner read from our Sender interface (or got whole): its copy now.

    Only for partners that take pushes of that module: for the others no
    copy is ever compared.
    """
    if party is None or not objects or not party.endpoint_url(module, "RECEIVER"):
        return
    now = timezone.now()
    PushedCopy.objects.bulk_create(
        [
            PushedCopy(party=party, module=module, object_id=obj["id"], body=obj, pushed_at=now)
            for obj in objects
        ],
        update_conflicts=True,
        unique_fields=["party", "module", "object_id"],
        update_fields=["body", "pushed_at"],
    )


# --- every partner -------------------------------------------------------------------


def data_changes_push(
    *, now: datetime | None = None, time_budget: float | None = None
) -> dict[int, Counter | str]:
    """One run: every partner's locations and tariffs brought up to date; what happened.

    Sends for at most `time_budget` seconds (most of the interval between
    runs, so that runs do not overlap and send the same change twice); what
    is left goes with the next run.
    """
    if time_budget is None:
        time_budget = settings.OCPI_DATA_PUSH_SECONDS * 0.8
    deadline = time.monotonic() + time_budget
    run_started = timezone.now()  # the clock of updated_at, whatever `now` says
    now = now or run_started
    parties = partners_receiving_data()
    if not parties:
        return {}
    tariffs = tariffs_now(now=now)
    chooser = TariffChooser()
    in_force = tariffs_in_force(chooser)
    published = published_evses()
    outcome: dict[int, Counter | str] = {}
    plans = []
    for party in parties:
        if partner_backing_off(party, now=now):
            outcome[party.pk] = "backing off"
            continue
        copies = copies_of(party.pk)
        plans.append((party, copies, _scope(party, copies, published, in_force, run_started)))
    due = set().union(*(scope.location_ids for _, _, scope in plans)) & published.keys()
    locations = locations_now(location_ids=due, tariffs=chooser)
    for party, copies, scope in plans:
        try:
            sent = party_data_push(
                party,
                locations=locations,
                location_ids=scope.location_ids,
                copies=copies,
                tariffs=tariffs,
                now=now,
                deadline=deadline,
            )
        except OutOfTime:
            outcome[party.pk] = "time is up"
        except PartnerError as exc:
            outcome[party.pk] = f"failed: {exc}"
            logger.warning("Location and tariff push to %s stopped: %s", party, exc)
        else:
            outcome[party.pk] = sent
            if not sent["rejected"]:  # what was rejected is compared again next run
                partner_mark_set(
                    party.pk, run_started=run_started, tariffs=in_force, full=scope.full
                )
    return outcome


def _scope(
    party: Party,
    copies: dict[tuple[str, str], PushedCopy],
    published: dict[str, frozenset[str]],
    in_force: tuple,
    run_started: datetime,
) -> PartnerScope:
    if not party.endpoint_url(LOCATIONS, "RECEIVER"):
        return PartnerScope(frozenset(), full=True)
    copied = {oid: row.body for (module, oid), row in copies.items() if module == LOCATIONS}
    return partner_scope(
        mark=partner_mark(party.pk),
        copied=copied,
        published=published,
        tariffs=in_force,
        run_started=run_started,
    )
