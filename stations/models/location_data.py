"""What a driver needs to find and use a site, shaped after OCPI 2.2.1 Locations.

The enumerations carry OCPI's spellings, so that roaming can publish the
stored values as they are. The checks of the JSON-held parts (opening
times, facilities, images) live here once: Station.clean() calls them, and
through it the console and the API.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _


class ConnectorStandard(models.TextChoices):
    """OCPI ConnectorType: the plug or socket standard."""

    CHADEMO = "CHADEMO", "CHAdeMO"
    CHAOJI = "CHAOJI", "ChaoJi"
    DOMESTIC_A = "DOMESTIC_A", _("Domestic type A (NEMA 1-15)")
    DOMESTIC_B = "DOMESTIC_B", _("Domestic type B (NEMA 5-15)")
    DOMESTIC_C = "DOMESTIC_C", _("Domestic type C (CEE 7/17)")
    DOMESTIC_D = "DOMESTIC_D", _("Domestic type D")
    DOMESTIC_E = "DOMESTIC_E", _("Domestic type E (CEE 7/5)")
    DOMESTIC_F = "DOMESTIC_F", _("Domestic type F (Schuko)")
    DOMESTIC_G = "DOMESTIC_G", _("Domestic type G (BS 1363)")
    DOMESTIC_H = "DOMESTIC_H", _("Domestic type H (SI-32)")
    DOMESTIC_I = "DOMESTIC_I", _("Domestic type I (AS 3112)")
    DOMESTIC_J = "DOMESTIC_J", _("Domestic type J (SEV 1011)")
    DOMESTIC_K = "DOMESTIC_K", _("Domestic type K (DS 60884-2-D1)")
    DOMESTIC_L = "DOMESTIC_L", _("Domestic type L (CEI 23-16-VII)")
    DOMESTIC_M = "DOMESTIC_M", _("Domestic type M (BS 546)")
    DOMESTIC_N = "DOMESTIC_N", _("Domestic type N (NBR 14136)")
    DOMESTIC_O = "DOMESTIC_O", _("Domestic type O (TIS 166-2549)")
    GBT_AC = "GBT_AC", "GB/T AC"
    GBT_DC = "GBT_DC", "GB/T DC"
    IEC_60309_2_SINGLE_16 = "IEC_60309_2_single_16", _("IEC 60309-2 single phase 16 A")
    IEC_60309_2_THREE_16 = "IEC_60309_2_three_16", _("IEC 60309-2 three phases 16 A")
    IEC_60309_2_THREE_32 = "IEC_60309_2_three_32", _("IEC 60309-2 three phases 32 A")
    IEC_60309_2_THREE_64 = "IEC_60309_2_three_64", _("IEC 60309-2 three phases 64 A")
    IEC_62196_T1 = "IEC_62196_T1", _("Type 1 (SAE J1772)")
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO", _("CCS Type 1 (Combo 1)")
    IEC_62196_T2 = "IEC_62196_T2", _("Type 2 (Mennekes)")
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO", _("CCS Type 2 (Combo 2)")
    IEC_62196_T3A = "IEC_62196_T3A", _("Type 3A")
    IEC_62196_T3C = "IEC_62196_T3C", _("Type 3C (Scame)")
    NEMA_5_20 = "NEMA_5_20", "NEMA 5-20"
    NEMA_6_30 = "NEMA_6_30", "NEMA 6-30"
    NEMA_6_50 = "NEMA_6_50", "NEMA 6-50"
    NEMA_10_30 = "NEMA_10_30", "NEMA 10-30"
    NEMA_10_50 = "NEMA_10_50", "NEMA 10-50"
    NEMA_14_30 = "NEMA_14_30", "NEMA 14-30"
    NEMA_14_50 = "NEMA_14_50", "NEMA 14-50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP", _("Pantograph, bottom-up")
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN", _("Pantograph, top-down")
    TESLA_R = "TESLA_R", _("Tesla Roadster")
    TESLA_S = "TESLA_S", _("Tesla Model S")


class ConnectorFormat(models.TextChoices):
    """OCPI ConnectorFormat: bring your own cable, or one is attached."""

    SOCKET = "SOCKET", _("Socket (bring a cable)")
    CABLE = "CABLE", _("Attached cable")


class PowerType(models.TextChoices):
    """OCPI PowerType."""

    AC_1_PHASE = "AC_1_PHASE", _("AC, single phase")
    AC_2_PHASE = "AC_2_PHASE", _("AC, two of three phases")
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT", _("AC, split phase")
    AC_3_PHASE = "AC_3_PHASE", _("AC, three phases")
    DC = "DC", _("DC")


class ParkingType(models.TextChoices):
    """OCPI ParkingType: the general kind of parking at the site."""

    ALONG_MOTORWAY = "ALONG_MOTORWAY", _("Along a motorway")
    PARKING_GARAGE = "PARKING_GARAGE", _("Parking garage")
    PARKING_LOT = "PARKING_LOT", _("Parking lot")
    ON_DRIVEWAY = "ON_DRIVEWAY", _("On a driveway")
    ON_STREET = "ON_STREET", _("On the street")
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE", _("Underground garage")


class Facility(models.TextChoices):
    """OCPI Facility: what the site is part of or close to."""

    HOTEL = "HOTEL", _("Hotel")
    RESTAURANT = "RESTAURANT", _("Restaurant")
    CAFE = "CAFE", _("Cafe")
    MALL = "MALL", _("Mall or shopping center")
    SUPERMARKET = "SUPERMARKET", _("Supermarket")
    SPORT = "SPORT", _("Sport facilities")
    RECREATION_AREA = "RECREATION_AREA", _("Recreation area")
    NATURE = "NATURE", _("Park or nature reserve")
    MUSEUM = "MUSEUM", _("Museum")
    BIKE_SHARING = "BIKE_SHARING", _("Bike sharing")
    BUS_STOP = "BUS_STOP", _("Bus stop")
    TAXI_STAND = "TAXI_STAND", _("Taxi stand")
    TRAM_STOP = "TRAM_STOP", _("Tram stop")
    METRO_STATION = "METRO_STATION", _("Metro station")
    TRAIN_STATION = "TRAIN_STATION", _("Train station")
    AIRPORT = "AIRPORT", _("Airport")
    PARKING_LOT = "PARKING_LOT", _("Parking lot")
    CARPOOL_PARKING = "CARPOOL_PARKING", _("Carpool parking")
    FUEL_STATION = "FUEL_STATION", _("Fuel station")
    WIFI = "WIFI", _("Wi-Fi")


class ImageCategory(models.TextChoices):
    """OCPI ImageCategory: what an image shows."""

    CHARGER = "CHARGER", _("Charger")
    ENTRANCE = "ENTRANCE", _("Entrance")
    LOCATION = "LOCATION", _("Location")
    NETWORK = "NETWORK", _("Network logo")
    OPERATOR = "OPERATOR", _("Operator logo")
    OTHER = "OTHER", _("Other")
    OWNER = "OWNER", _("Owner logo")


class EvseStatus(models.TextChoices):
    """OCPI Status of an EVSE (computed from OCPP statuses, never stored)."""

    AVAILABLE = "AVAILABLE", _("Available")
    BLOCKED = "BLOCKED", _("Blocked")
    CHARGING = "CHARGING", _("Charging")
    INOPERATIVE = "INOPERATIVE", _("Inoperative")
    OUTOFORDER = "OUTOFORDER", _("Out of order")
    PLANNED = "PLANNED", _("Planned")
    REMOVED = "REMOVED", _("Removed")
    RESERVED = "RESERVED", _("Reserved")
    UNKNOWN = "UNKNOWN", _("Unknown")


# --- opening times ------------------------------------------------------------

# OCPI RegularHours: local time, 24 h, leading zeros, "00:00" to "23:59".
HOUR_MINUTE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
HOURS_KEYS = ("twentyfourseven", "regular_hours", "exceptional_openings", "exceptional_closings")
OPENING_TIMES_HELP = _(
    'OCPI Hours as JSON. Always open: {"twentyfourseven": true}. Else regular hours per '
    'weekday (1 Monday ... 7 Sunday), local time "HH:MM", the end after the begin '
    '(until midnight: "23:59"): {"twentyfourseven": false, "regular_hours": '
    '[{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"}]}. Optional '
    '"exceptional_openings" and "exceptional_closings": [{"period_begin": '
    '"2026-12-25T00:00:00Z", "period_end": "2026-12-26T00:00:00Z"}] (UTC). '
    "Empty: not known."
)


def opening_times_clean(value) -> dict | None:
    """The opening times in canonical form; ValidationError listing every problem.

    Canonical: regular hours sorted by weekday and begin, exceptional periods
    as UTC "YYYY-MM-DDTHH:MM:SSZ" sorted by begin, absent lists as [].
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(
            _('Give an object such as {"twentyfourseven": true}.'), code="invalid"
        )
    problems: list[str] = []
    unknown = sorted(set(value) - set(HOURS_KEYS))
    if unknown:
        problems.append(
            _("Unknown keys: %(keys)s (allowed: %(allowed)s).")
            % {"keys": ", ".join(unknown), "allowed": ", ".join(HOURS_KEYS)}
        )
    always_open = value.get("twentyfourseven")
    if not isinstance(always_open, bool):
        problems.append(_("twentyfourseven: give true or false."))
    regular = _regular_hours_clean(value.get("regular_hours", []), problems)
    if always_open is True and regular:
        problems.append(_("regular_hours: leave empty when twentyfourseven is true."))
    if always_open is False and not regular and not problems:
        problems.append(_("regular_hours: give at least one period when twentyfourseven is false."))
    exceptions = {
        key: _periods_clean(key, value.get(key, []), problems)
        for key in ("exceptional_openings", "exceptional_closings")
    }
    if problems:
        raise ValidationError(problems, code="invalid")
    return {"twentyfourseven": always_open, "regular_hours": regular, **exceptions}


def _regular_hours_clean(entries, problems: list[str]) -> list[dict]:
    if not isinstance(entries, list):
        problems.append(_("regular_hours: give a list."))
        return []
    cleaned = []
    for index, entry in enumerate(entries):
        where = f"regular_hours[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"weekday", "period_begin", "period_end"}:
            problems.append(
                _("%(where)s: give exactly weekday, period_begin and period_end.")
                % {"where": where}
            )
            continue
        weekday, begin, end = entry["weekday"], entry["period_begin"], entry["period_end"]
        # bool is an int in Python; true is no weekday.
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
            problems.append(
                _("%(where)s.weekday: give 1 (Monday) to 7 (Sunday).") % {"where": where}
            )
            continue
        bad_times = [
            name
            for name, text in (("period_begin", begin), ("period_end", end))
            if not (isinstance(text, str) and HOUR_MINUTE.fullmatch(text))
        ]
        for name in bad_times:
            problems.append(
                _('%(where)s.%(name)s: give local time as "HH:MM", 00:00 to 23:59.')
                % {"where": where, "name": name}
            )
        if bad_times:
            continue
        if end <= begin:  # "HH:MM" strings compare like times
            problems.append(
                _("%(where)s.period_end: must be later than period_begin.") % {"where": where}
            )
            continue
        cleaned.append({"weekday": weekday, "period_begin": begin, "period_end": end})
    cleaned.sort(key=lambda hours: (hours["weekday"], hours["period_begin"]))
    for earlier, later in zip(cleaned, cleaned[1:], strict=False):
        if earlier["weekday"] == later["weekday"] and later["period_begin"] < earlier["period_end"]:
            problems.append(
                _("regular_hours: periods overlap on weekday %(weekday)s.")
                % {"weekday": later["weekday"]}
            )
    return cleaned


def _periods_clean(key: str, entries, problems: list[str]) -> list[dict]:
    if not isinstance(entries, list):
        problems.append(_("%(key)s: give a list.") % {"key": key})
        return []
    cleaned = []
    for index, entry in enumerate(entries):
        where = f"{key}[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"period_begin", "period_end"}:
            problems.append(
                _("%(where)s: give exactly period_begin and period_end.") % {"where": where}
            )
            continue
        begin = _utc(entry["period_begin"])
        end = _utc(entry["period_end"])
        if begin is None or end is None:
            problems.append(
                _('%(where)s: give date-times such as "2026-12-25T00:00:00Z".') % {"where": where}
            )
            continue
        if end <= begin:
            problems.append(
                _("%(where)s.period_end: must be later than period_begin.") % {"where": where}
            )
            continue
        cleaned.append({"period_begin": begin, "period_end": end})
    cleaned.sort(key=lambda period: period["period_begin"])
    return [
        {name: moment.strftime("%Y-%m-%dT%H:%M:%SZ") for name, moment in period.items()}
        for period in cleaned
    ]


def _utc(text) -> datetime | None:
    """An OCPI DateTime: RFC 3339; without a zone it is UTC."""
    if not isinstance(text, str):
        return None
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --- facilities and images ------------------------------------------------------


def facilities_clean(value) -> list[str]:
    """The facilities as a list of OCPI Facility values, each once, in the given order."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_('Give a list such as ["CAFE", "WIFI"].'), code="invalid")
    unknown = [item for item in value if item not in Facility.values]
    if unknown:
        raise ValidationError(
            _("Unknown facilities: %(unknown)s (allowed: %(allowed)s).")
            % {"unknown": ", ".join(unknown), "allowed": ", ".join(Facility.values)},
            code="invalid_choice",
        )
    return list(dict.fromkeys(value))


IMAGE_KEYS = {"url", "thumbnail", "category", "type", "width", "height"}
IMAGES_HELP = _(
    'OCPI Images as JSON: [{"url": "https://...", "category": "LOCATION", "type": "jpeg", '
    '"width": 800, "height": 600}]; category one of CHARGER, ENTRANCE, LOCATION, NETWORK, '
    "OPERATOR, OTHER, OWNER; thumbnail, width and height optional."
)


def images_clean(value) -> list[dict]:
    """The images as OCPI Image objects; ValidationError listing every problem."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(_("Give a list of images."), code="invalid")
    problems: list[str] = []
    cleaned = []
    for index, image in enumerate(value):
        where = f"[{index}]"
        if not isinstance(image, dict):
            problems.append(_("%(where)s: give an object.") % {"where": where})
            continue
        found = _image_problems(image)
        problems.extend(f"{where}.{problem}" for problem in found)
        if not found:
            cleaned.append({key: image[key] for key in IMAGE_KEYS if image.get(key) is not None})
    if problems:
        raise ValidationError(problems, code="invalid")
    return cleaned


def _image_problems(image: dict) -> list[str]:
    problems = []
    unknown = sorted(set(image) - IMAGE_KEYS)
    if unknown:
        problems.append(_("unknown keys: %(keys)s.") % {"keys": ", ".join(unknown)})
    for key in ("url", "thumbnail"):
        if key == "url" or image.get(key) is not None:
            if not _is_web_url(image.get(key)):
                problems.append(_("%(key)s: give an http(s) URL.") % {"key": key})
    if image.get("category") not in ImageCategory.values:
        problems.append(
            _("category: one of %(allowed)s.") % {"allowed": ", ".join(ImageCategory.values)}
        )
    kind = image.get("type")
    if not (isinstance(kind, str) and re.fullmatch(r"[A-Za-z0-9]{1,4}", kind)):
        problems.append(_("type: the file type, e.g. jpeg or png (at most 4 characters)."))
    for key in ("width", "height"):
        size = image.get(key)
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= 99_999
        ):
            problems.append(_("%(key)s: whole pixels, 1 to 99999.") % {"key": key})
    return problems


def _is_web_url(text) -> bool:
    if not isinstance(text, str) or len(text) > 2048:
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- identities -----------------------------------------------------------------

PARTY_ID = re.compile(r"[A-Z0-9]{3}")
COUNTRY_CODE = re.compile(r"[A-Z]{2}")
# eMI3 EVSE ID: country, operator id, "E", power outlet id ("*" separators optional).
EVSE_ID = re.compile(r"[A-Z]{2}\*?[A-Z0-9]{3}\*?E[A-Z0-9][A-Z0-9*]{0,30}")
EVSE_ID_MAX_LENGTH = 48
# Bounds of a plausible plug (megawatt charging reaches 1250 V and 3000 A).
MAX_VOLTAGE = 2_000
MAX_AMPERAGE = 5_000

# Plugs that carry one kind of current only; the others (Type 2, Tesla ...) vary.
DC_ONLY_STANDARDS = frozenset(
    {
        ConnectorStandard.CHADEMO,
        ConnectorStandard.CHAOJI,
        ConnectorStandard.GBT_DC,
        ConnectorStandard.IEC_62196_T1_COMBO,
        ConnectorStandard.IEC_62196_T2_COMBO,
        ConnectorStandard.PANTOGRAPH_BOTTOM_UP,
        ConnectorStandard.PANTOGRAPH_TOP_DOWN,
    }
)
AC_ONLY_STANDARDS = frozenset(
    {
        standard
        for standard in ConnectorStandard
        if standard.value.startswith(("DOMESTIC_", "IEC_60309_", "NEMA_"))
    }
    | {ConnectorStandard.GBT_AC}
)
