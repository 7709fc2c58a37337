"""Stations, charge points and connectors, drivers and id tags, tariffs."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal

from billing.models import TagGroup, Tariff, TariffPeriod
from billing.services import tariff_snapshot
from drivers.choices import AuthorizationStatus
from drivers.models import Driver, IdTag, User
from stations.choices import (
    ChargePointErrorCode,
    ConnectorStatus,
    OcppVersion,
    RegistrationStatus,
)
from stations.models import ChargePoint, Connector, Station

from .tables import Table

# City, country, time zone, latitude, longitude: stations spread over them.
CITIES = (
    ("Berlin", "DE", "Europe/Berlin", 52.52, 13.40),
    ("Hamburg", "DE", "Europe/Berlin", 53.55, 9.99),
    ("Munich", "DE", "Europe/Berlin", 48.14, 11.58),
    ("Cologne", "DE", "Europe/Berlin", 50.94, 6.96),
    ("Paris", "FR", "Europe/Paris", 48.86, 2.35),
    ("Lyon", "FR", "Europe/Paris", 45.76, 4.84),
    ("Amsterdam", "NL", "Europe/Amsterdam", 52.37, 4.90),
    ("Vienna", "AT", "Europe/Vienna", 48.21, 16.37),
    ("Zurich", "CH", "Europe/Zurich", 47.38, 8.54),
    ("London", "GB", "Europe/London", 51.51, -0.13),
    ("Madrid", "ES", "Europe/Madrid", 40.42, -3.70),
    ("Lisbon", "PT", "Europe/Lisbon", 38.72, -9.14),
    ("Stockholm", "SE", "Europe/Stockholm", 59.33, 18.07),
    ("Helsinki", "FI", "Europe/Helsinki", 60.17, 24.94),
    ("Warsaw", "PL", "Europe/Warsaw", 52.23, 21.01),
    ("New York", "US", "America/New_York", 40.71, -74.01),
    ("Chicago", "US", "America/Chicago", 41.88, -87.63),
    ("Los Angeles", "US", "America/Los_Angeles", 34.05, -118.24),
    ("Toronto", "CA", "America/Toronto", 43.65, -79.38),
    ("Sydney", "AU", "Australia/Sydney", -33.87, 151.21),
)
STREETS = ("Hauptstraße", "Market Street", "Rue de la Gare", "Parkweg", "Station Road", "Via Roma")
SITES = ("Car park", "Supermarket", "Office", "Hotel", "Depot", "Motorway services", "Street")

# Vendor, model, connectors (1 or the maximum), power per connector (W): boot data and
# how much a session may draw.
MODELS = (
    ("Alfen", "Eve Double Pro-line", 2, 11_000),
    ("ABB", "Terra AC W22", 1, 22_000),
    ("ABB", "Terra 184", 2, 90_000),
    ("Wallbox", "Commander 2", 1, 22_000),
    ("Kempower", "S-Series", 2, 150_000),
    ("Compleo", "eBox professional", 1, 11_000),
    ("Mennekes", "AMTRON Compact", 2, 22_000),
    ("Easee", "Charge Core", 1, 22_000),
    ("Zaptec", "Pro", 1, 22_000),
    ("Tritium", "PKM150", 1, 150_000),
)
FAULTS = (
    ChargePointErrorCode.GROUND_FAILURE,
    ChargePointErrorCode.OVER_CURRENT_FAILURE,
    ChargePointErrorCode.POWER_METER_FAILURE,
    ChargePointErrorCode.READER_FAILURE,
    ChargePointErrorCode.HIGH_TEMPERATURE,
)
OPERATOR_USERNAME_PREFIX = "datagen-driver-"


@dataclass(frozen=True)
class ConnectorInfo:
    pk: int
    charge_point_pk: int
    number: int
    power_w: int
    station_index: int
    version: str
    online: bool
    running_status: str  # "" or the status of its running session


@dataclass
class Network:
    station_pks: list[int]
    station_zones: list[str]
    charge_point_pks: list[int]
    charge_point_versions: list[str]
    connectors: list[ConnectorInfo]
    tag_pks: list[int]
    tag_values: list[str]
    default_tariff: Tariff
    station_tariffs: dict[int, Tariff]  # station index -> its own tariff
    snapshots: dict[int, str]  # tariff pk -> its snapshot (JSON text)


def network_build(*, spec, loader, now: float, out) -> Network:
    rng = random.Random(f"{spec.seed}-network")
    stations = _stations(spec, loader, rng, now)
    charge_points, versions, connectors = _charge_points(spec, loader, rng, now, stations)
    default, by_station, group = _tariffs(rng, stations)
    tags, values = _drivers_and_tags(spec, loader, rng, now)
    # One card in a hundred is an employee's (the group's tariff).
    membership = TagGroup.id_tags.through
    membership.objects.bulk_create(
        (membership(taggroup_id=group.pk, idtag_id=pk) for pk in tags[::100]), batch_size=5000
    )
    snapshots = {
        tariff.pk: json.dumps(tariff_snapshot(tariff)) for tariff in [default, *by_station.values()]
    }
    out(f"  tariffs: a default, {len(by_station)} of stations, one of a tag group")
    return Network(
        station_pks=stations[0],
        station_zones=stations[1],
        charge_point_pks=charge_points,
        charge_point_versions=versions,
        connectors=connectors,
        tag_pks=tags,
        tag_values=values,
        default_tariff=default,
        station_tariffs=by_station,
        snapshots=snapshots,
    )


def _stations(spec, loader, rng, now) -> tuple[list[int], list[str]]:
    table = Table(
        Station,
        (
            "id",
            "name",
            "address",
            "city",
            "postal_code",
            "country",
            "latitude",
            "longitude",
            "time_zone",
        ),
        now=loader.timestamp(now - 400 * 86400),
    )
    first = loader.next_id(Station)
    pks, zones, rows = [], [], []
    for index in range(spec.stations):
        city, country, zone, lat, lon = CITIES[index % len(CITIES)]
        pk = first + index
        site = SITES[rng.randrange(len(SITES))]
        rows.append(
            table.row(
                pk,
                f"{city} {site} {index + 1}",
                f"{STREETS[rng.randrange(len(STREETS))]} {rng.randrange(1, 200)}",
                city,
                f"{rng.randrange(10000, 99999)}",
                country,
                Decimal(f"{lat + rng.uniform(-0.2, 0.2):.6f}"),
                Decimal(f"{lon + rng.uniform(-0.2, 0.2):.6f}"),
                zone,
            )
        )
        pks.append(pk)
        zones.append(zone)
    loader.load(Station, table.columns, rows)
    return pks, zones


def _charge_points(spec, loader, rng, now, stations):
    station_pks = stations[0]
    stamp = loader.timestamp
    cp_table = Table(
        ChargePoint,
        (
            "id",
            "charge_point_id",
            "station",
            "ocpp_version",
            "registration_status",
            "vendor",
            "model",
            "charge_point_serial_number",
            "firmware_version",
            "meter_type",
            "meter_serial_number",
            "is_online",
            "connection_channel",
            "last_boot_at",
            "last_heartbeat",
            "last_seen",
            "connected_at",
            "created_at",
        ),
        now=stamp(now),
    )
    connector_table = Table(
        Connector,
        (
            "id",
            "charge_point",
            "connector_id",
            "status",
            "error_code",
            "info",
            "status_timestamp",
            "max_power_w",
        ),
        now=stamp(now),
    )
    first_cp, first_connector = loader.next_id(ChargePoint), loader.next_id(Connector)
    plan = [_charge_point_plan(spec, rng, now) for _ in range(spec.charge_points)]
    # The running sessions: on connectors of online charge points, drawn at once.
    eligible = [
        (index, number)
        for index, planned in enumerate(plan)
        if planned["online"]
        for number in range(1, planned["connectors"] + 1)
    ]
    total = sum(planned["connectors"] for planned in plan)
    running = set(rng.sample(eligible, k=min(spec.running_for(total), len(eligible))))
    cp_rows, connector_rows, pks, versions, connectors = [], [], [], [], []
    for index, planned in enumerate(plan):
        pk = first_cp + index
        station_index = index * len(station_pks) // spec.charge_points
        online, never_booted = planned["online"], planned["booted"] is None
        cp_rows.append(
            cp_table.row(
                pk,
                f"CP-{index + 1:06d}",
                station_pks[station_index],
                planned["version"],
                planned["registration"],
                planned["vendor"],
                planned["model"],
                f"SN{rng.getrandbits(40):012X}",
                f"{rng.randrange(1, 6)}.{rng.randrange(0, 12)}.{rng.randrange(0, 30)}",
                "MID meter" if planned["power"] <= 22_000 else "DC meter",
                f"M{rng.getrandbits(32):010d}",
                online,
                f"specific.datagen!{pk:x}" if online else "",
                None if never_booted else stamp(planned["booted"]),
                None if never_booted else stamp(planned["heartbeat"]),
                None if never_booted else stamp(planned["last_seen"]),
                None if planned["connected"] is None else stamp(planned["connected"]),
                stamp(planned["created"]),
            )
        )
        pks.append(pk)
        versions.append(planned["version"])
        for number in range(1, planned["connectors"] + 1):
            connector_pk = first_connector + len(connectors)
            running_status = ""
            if (index, number) in running:
                roll = rng.random()
                running_status = (
                    ConnectorStatus.CHARGING
                    if roll < 0.85
                    else ConnectorStatus.SUSPENDED_EV
                    if roll < 0.95
                    else ConnectorStatus.SUSPENDED_EVSE
                )
            status, error = _connector_status(rng, online, running_status)
            connector_rows.append(
                connector_table.row(
                    connector_pk,
                    pk,
                    number,
                    status,
                    error,
                    "" if error == ChargePointErrorCode.NO_ERROR else "see vendor error",
                    stamp(now - rng.uniform(0, 3 * 86400)),
                    planned["power"],
                )
            )
            connectors.append(
                ConnectorInfo(
                    connector_pk,
                    pk,
                    number,
                    planned["power"],
                    station_index,
                    planned["version"],
                    online,
                    running_status,
                )
            )
    loader.load(ChargePoint, cp_table.columns, cp_rows)
    loader.load(Connector, connector_table.columns, connector_rows)
    return pks, versions, connectors


def _charge_point_plan(spec, rng, now: float) -> dict:
    """What a charge point is: model, version, registration, connection state and times."""
    vendor, model, ports, power = MODELS[rng.randrange(len(MODELS))]
    version = OcppVersion.V201 if rng.randrange(100) < spec.ocpp201_percent else OcppVersion.V16
    roll = rng.random() * 100
    registration = RegistrationStatus.ACCEPTED
    if roll < 1.0:
        registration = RegistrationStatus.PENDING
    elif roll < 1.3:
        registration = RegistrationStatus.REJECTED
    never_booted = rng.random() < 0.005
    online = (
        not never_booted
        and registration == RegistrationStatus.ACCEPTED
        and rng.randrange(100) >= spec.offline_percent
    )
    if online:
        connected = now - rng.uniform(600, 20 * 86400)
        last_seen, heartbeat = now - rng.uniform(0, 60), now - rng.uniform(0, 300)
    else:
        connected = None
        last_seen = heartbeat = now - rng.uniform(3600, 10 * 86400)
    return {
        "vendor": vendor,
        "model": model,
        "connectors": min(ports, spec.connectors_max),
        "power": power,
        "version": version,
        "registration": registration,
        "online": online,
        "connected": connected,
        "last_seen": last_seen,
        "heartbeat": heartbeat,
        "booted": None if never_booted else (connected or last_seen) - rng.uniform(1, 30),
        "created": now - rng.uniform(60, 400) * 86400,
    }


def _connector_status(rng, online: bool, running_status: str) -> tuple[str, str]:
    if running_status:
        return running_status, ChargePointErrorCode.NO_ERROR
    if not online:
        return ConnectorStatus.UNAVAILABLE, ChargePointErrorCode.NO_ERROR
    roll = rng.random()
    if roll < 0.015:
        return ConnectorStatus.FAULTED, FAULTS[rng.randrange(len(FAULTS))]
    if roll < 0.035:
        return ConnectorStatus.UNAVAILABLE, ChargePointErrorCode.NO_ERROR
    if roll < 0.05:
        return ConnectorStatus.PREPARING, ChargePointErrorCode.NO_ERROR
    if roll < 0.065:
        return ConnectorStatus.FINISHING, ChargePointErrorCode.NO_ERROR
    if roll < 0.07:
        return ConnectorStatus.RESERVED, ChargePointErrorCode.NO_ERROR
    return ConnectorStatus.AVAILABLE, ChargePointErrorCode.NO_ERROR


def _tariffs(rng, stations) -> tuple[Tariff, dict[int, Tariff], TagGroup]:
    """A default tariff, its own tariff at one station in twenty (some with a night period),
    and an employees' group: a handful of rows, written through the ORM."""
    default = Tariff.objects.create(
        name="Standard",
        currency="EUR",
        price_per_kwh=Decimal("0.3900"),
        session_fee=Decimal("0.50"),
        vat_rate=Decimal("19.00"),
        is_default=True,
    )
    station_pks = stations[0]
    chosen = sorted(rng.sample(range(len(station_pks)), k=max(0, len(station_pks) // 20)))
    tariffs = Tariff.objects.bulk_create(
        Tariff(
            name=f"Site tariff {index + 1}",
            currency="EUR",
            price_per_kwh=Decimal(f"0.{rng.randrange(29, 69)}00"),
            price_per_minute=Decimal("0.0200") if index % 3 == 0 else Decimal("0"),
            idle_price_per_minute=Decimal("0.1000") if index % 4 == 0 else Decimal("0"),
            idle_grace_minutes=30,
            session_fee=Decimal("0.00"),
            vat_rate=Decimal("19.00"),
            station_id=station_pks[index],
            priority=1,
        )
        for index in chosen
    )
    TariffPeriod.objects.bulk_create(
        TariffPeriod(
            tariff=tariff,
            start_time="22:00",
            end_time="06:00",
            price_per_kwh=Decimal("0.2900"),
        )
        for tariff in tariffs[::5]
    )
    group = TagGroup.objects.create(name="Employees (generated)")
    Tariff.objects.create(
        name="Employees",
        currency="EUR",
        price_per_kwh=Decimal("0.1500"),
        vat_rate=Decimal("19.00"),
        tag_group=group,
        priority=5,
    )
    # With the periods the snapshots read.
    with_periods = Tariff.objects.prefetch_related("periods").in_bulk([t.pk for t in tariffs])
    by_station = {index: with_periods[t.pk] for index, t in zip(chosen, tariffs, strict=True)}
    return default, by_station, group


def _drivers_and_tags(spec, loader, rng, now) -> tuple[list[int], list[str]]:
    stamp = loader.timestamp
    user_table = Table(
        User,
        ("id", "password", "username", "first_name", "last_name", "email", "date_joined"),
        now=stamp(now),
    )
    driver_table = Table(Driver, ("id", "user", "phone", "created_at"), now=stamp(now))
    tag_table = Table(
        IdTag,
        ("id", "id_tag", "status", "expiry_date", "driver", "note", "created_at"),
        now=stamp(now),
    )
    first_user, first_driver, first_tag = (
        loader.next_id(User),
        loader.next_id(Driver),
        loader.next_id(IdTag),
    )
    users, drivers = [], []
    for index in range(spec.drivers):
        joined = stamp(now - rng.uniform(1, 700) * 86400)
        name = f"{OPERATOR_USERNAME_PREFIX}{index + 1:07d}"
        users.append(
            user_table.row(
                first_user + index,
                "!datagen",  # an unusable password: generated drivers cannot sign in
                name,
                FIRST_NAMES[index % len(FIRST_NAMES)],
                LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)],
                f"{name}@example.invalid",
                joined,
            )
        )
        drivers.append(
            driver_table.row(
                first_driver + index,
                first_user + index,
                f"+49 151 {rng.randrange(10**7):07d}",
                joined,
            )
        )
    loader.load(User, user_table.columns, users, label="users (drivers)")
    loader.load(Driver, driver_table.columns, drivers)
    pks, values, rows = [], [], []
    for index in range(spec.id_tags):
        pk = first_tag + index
        value = f"04{rng.getrandbits(24):06X}{index:06X}"
        roll = rng.random()
        status, expiry = AuthorizationStatus.ACCEPTED, None
        if roll < 0.02:
            status = AuthorizationStatus.BLOCKED
        elif roll < 0.03:
            status, expiry = AuthorizationStatus.EXPIRED, stamp(now - rng.uniform(1, 90) * 86400)
        driver = (
            first_driver + index % spec.drivers
            if spec.drivers and index < spec.id_tags * 9 // 10
            else None
        )
        rows.append(
            tag_table.row(
                pk, value, status, expiry, driver, "", stamp(now - rng.uniform(1, 700) * 86400)
            )
        )
        pks.append(pk)
        values.append(value)
    loader.load(IdTag, tag_table.columns, rows)
    return pks, values


FIRST_NAMES = ("Anna", "Ben", "Chloé", "David", "Elif", "Finn", "Greta", "Hugo", "Ines", "Jonas")
LAST_NAMES = ("Müller", "Schmidt", "Martin", "Jansen", "Rossi", "García", "Nowak", "Smith")
