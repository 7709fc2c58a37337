"""The OCPI endpoints we offer: versions, credentials, and the CPO's Locations and Tariffs."""

from __future__ import annotations

from django.utils import timezone

from ..choices import OCPI_VERSION, InterfaceRole, ModuleId
from ..credential_tokens import token_is_valid
from ..data_push import LOCATIONS, TARIFFS, copies_record_pulled
from ..locations import TariffChooser, location_object, location_queryset, locations_load
from ..services import (
    HandshakeError,
    PartnerCredentials,
    WrongRegistrationState,
    our_credentials,
    party_credentials_update,
    party_register,
    party_unregister,
)
from ..tariffs import tariff_object, tariff_queryset_dated, tariff_versions_refresh
from .base import OcpiView, ocpi_base_url, ok
from .envelope import INVALID_PARAMETERS, UNKNOWN_LOCATION, OcpiError
from .pagination import page_headers, page_params

# The modules of 2.2.1 we offer, each with the interface we implement and its path.
OUR_ENDPOINTS = (
    (ModuleId.CREDENTIALS, InterfaceRole.SENDER, f"{OCPI_VERSION}/credentials"),
    (ModuleId.CREDENTIALS, InterfaceRole.RECEIVER, f"{OCPI_VERSION}/credentials"),
    (ModuleId.LOCATIONS, InterfaceRole.SENDER, f"cpo/{OCPI_VERSION}/locations"),
    (ModuleId.TARIFFS, InterfaceRole.SENDER, f"cpo/{OCPI_VERSION}/tariffs"),
    (ModuleId.TOKENS, InterfaceRole.RECEIVER, f"cpo/{OCPI_VERSION}/tokens"),
    (ModuleId.SESSIONS, InterfaceRole.SENDER, f"cpo/{OCPI_VERSION}/sessions"),
    (ModuleId.CDRS, InterfaceRole.SENDER, f"cpo/{OCPI_VERSION}/cdrs"),
    (ModuleId.COMMANDS, InterfaceRole.RECEIVER, f"cpo/{OCPI_VERSION}/commands"),
)


class VersionsView(OcpiView):
    """GET /ocpi/versions: the versions we speak (only 2.2.1)."""

    registration_allowed = True
    functional = False

    def get(self, request):
        base = ocpi_base_url(request)
        return ok([{"version": OCPI_VERSION, "url": f"{base}/{OCPI_VERSION}"}])


class VersionDetailsView(OcpiView):
    """GET /ocpi/2.2.1: our endpoints of 2.2.1."""

    registration_allowed = True
    functional = False

    def get(self, request):
        base = ocpi_base_url(request)
        endpoints = [
            {"identifier": module.value, "role": role.value, "url": f"{base}/{path}"}
            for module, role, path in OUR_ENDPOINTS
        ]
        return ok({"version": OCPI_VERSION, "endpoints": endpoints})


class CredentialsView(OcpiView):
    """/ocpi/2.2.1/credentials: registration (POST), update (PUT), unregistration (DELETE)."""

    registration_allowed = True
    functional = False

    def get(self, request):
        # The partner's credentials to access us: the token it just used, which we keep hashed.
        return ok(self._ours(request, request.ocpi_token))

    def post(self, request):
        credentials = credentials_parse(request.ocpi_body)
        try:
            token_c = party_register(party=request.ocpi_party, credentials=credentials)
        except WrongRegistrationState as exc:
            raise OcpiError(405, 2000, "Already registered: use PUT to update") from exc
        except HandshakeError as exc:
            return ok(status_code=exc.status_code, message=exc.message)
        return ok(self._ours(request, token_c))

    def put(self, request):
        credentials = credentials_parse(request.ocpi_body)
        try:
            token_c = party_credentials_update(party=request.ocpi_party, credentials=credentials)
        except WrongRegistrationState as exc:
            raise OcpiError(405, 2000, "Not registered: use POST to register") from exc
        except HandshakeError as exc:
            return ok(status_code=exc.status_code, message=exc.message)
        return ok(self._ours(request, token_c))

    def delete(self, request):
        try:
            party_unregister(party=request.ocpi_party)
        except WrongRegistrationState as exc:
            raise OcpiError(405, 2000, "Not registered") from exc
        return ok()

    @staticmethod
    def _ours(request, token: str) -> dict:
        return our_credentials(token=token, versions_url=f"{ocpi_base_url(request)}/versions")


def credentials_parse(body) -> PartnerCredentials:
    """A Credentials object from a partner; 2001 naming what is wrong."""
    if not isinstance(body, dict):
        raise OcpiError(400, INVALID_PARAMETERS, "Give a Credentials object")
    if not token_is_valid(body.get("token")):
        raise OcpiError(
            400, INVALID_PARAMETERS, "token: 1 to 64 printable ASCII characters, no spaces"
        )
    url = body.get("url")
    if not (isinstance(url, str) and url.lower().startswith(("https://", "http://"))):
        raise OcpiError(400, INVALID_PARAMETERS, "url: give the URL of your versions endpoint")
    roles = body.get("roles")
    if not (isinstance(roles, list) and roles):
        raise OcpiError(400, INVALID_PARAMETERS, "roles: give at least one CredentialsRole")
    for index, role in enumerate(roles):
        missing = [
            key
            for key in ("role", "party_id", "country_code", "business_details")
            if not (isinstance(role, dict) and role.get(key))
        ]
        if missing:
            raise OcpiError(
                400, INVALID_PARAMETERS, f"roles[{index}]: missing {', '.join(missing)}"
            )
    return PartnerCredentials(token=body["token"], url=url, roles=roles)


class LocationListView(OcpiView):
    """GET /ocpi/cpo/2.2.1/locations: our locations, paginated, oldest first."""

    def get(self, request):
        page = page_params(request.GET)
        queryset = location_queryset(date_from=page.date_from, date_to=page.date_to)
        total = queryset.count()
        rows = list(
            queryset.values_list("pk", "ocpi_last_updated")[page.offset : page.offset + page.limit]
        )
        tariffs = TariffChooser()
        data = [location_object(station, tariffs=tariffs) for station in locations_load(rows)]
        copies_record_pulled(request.ocpi_party, LOCATIONS, data)  # no need to push them again
        base_url = f"{ocpi_base_url(request)}/cpo/{OCPI_VERSION}/locations"
        return ok(data, headers=page_headers(request, page, total=total, base_url=base_url))


class LocationDetailView(OcpiView):
    """GET one location, one of its EVSEs, or one connector of an EVSE."""

    def get(self, request, location_id, evse_uid=None, connector_id=None):
        location = _location(location_id)
        if evse_uid is None:
            copies_record_pulled(request.ocpi_party, LOCATIONS, [location])
            return ok(location)
        evse = next((e for e in location.get("evses", []) if e["uid"] == evse_uid), None)
        if evse is None:
            raise OcpiError(404, UNKNOWN_LOCATION, f"Unknown EVSE {evse_uid} at this location")
        if connector_id is None:
            return ok(evse)
        connector = next((c for c in evse["connectors"] if c["id"] == connector_id), None)
        if connector is None:
            raise OcpiError(404, UNKNOWN_LOCATION, f"Unknown connector {connector_id}")
        return ok(connector)


def _location(location_id: str) -> dict:
    rows = []
    if location_id.isdigit() and len(location_id) <= 18:
        rows = list(
            location_queryset().filter(pk=int(location_id)).values_list("pk", "ocpi_last_updated")
        )
    stations = locations_load(rows)
    if not stations:
        raise OcpiError(404, UNKNOWN_LOCATION, f"Unknown location {location_id}")
    return location_object(stations[0], tariffs=TariffChooser())


class TariffListView(OcpiView):
    """GET /ocpi/cpo/2.2.1/tariffs: our public tariffs, paginated, oldest first."""

    def get(self, request):
        page = page_params(request.GET)
        tariff_versions_refresh(now=timezone.now())
        queryset = tariff_queryset_dated(date_from=page.date_from, date_to=page.date_to)
        total = queryset.count()
        data = [tariff_object(t) for t in queryset[page.offset : page.offset + page.limit]]
        copies_record_pulled(request.ocpi_party, TARIFFS, data)
        base_url = f"{ocpi_base_url(request)}/cpo/{OCPI_VERSION}/tariffs"
        return ok(data, headers=page_headers(request, page, total=total, base_url=base_url))


class UnknownEndpointView(OcpiView):
    """Any other path under /ocpi/: an OCPI 404 (after authentication, as for the rest)."""

    registration_allowed = True
    functional = False
    http_method_names = ["get", "post", "put", "patch", "delete"]

    def _unknown(self, request, *args, **kwargs):
        raise OcpiError(404, 2000, "No such OCPI endpoint")

    get = post = put = patch = delete = _unknown
