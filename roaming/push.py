"""Pushing EVSE status to partners' Locations Receiver interfaces.

The newest status is read when the push runs (not when the event was
recorded): pushes that run late or twice send the current state, and OCPI
PATCHes of a status are harmless to repeat. A partner that does not know
the location yet gets the whole location (PUT) instead.
"""

from __future__ import annotations

from stations.models import Connector

from .choices import PartyStatus
from .client import PartnerError, ocpi_call
from .credential_tokens import token_decrypt
from .data_push import location_copy_record
from .locations import TariffChooser, location_object, location_queryset, locations_load
from .models import Party


def partners_receiving_locations() -> list[Party]:
    """Registered partners that offer a Locations Receiver interface."""
    return [
        party
        for party in Party.objects.filter(status=PartyStatus.REGISTERED)
        if party.endpoint_url("locations", "RECEIVER") and party.outgoing_token_encrypted
    ]


def evse_status_push(*, party_pk: int, connector_pk: int) -> str:
    """Send one EVSE's current status to one partner; what was done (for logs and tests)."""
    party = Party.objects.filter(pk=party_pk, status=PartyStatus.REGISTERED).first()
    url = party.endpoint_url("locations", "RECEIVER") if party else None
    if not url or not party.outgoing_token_encrypted:
        return "partner gone"
    connector = Connector.objects.select_related("charge_point").filter(pk=connector_pk).first()
    if connector is None or connector.charge_point.station_id is None:
        return "not a location"
    rows = list(
        location_queryset()
        .filter(pk=connector.charge_point.station_id)
        .values_list("pk", "ocpi_last_updated")
    )
    if not rows:
        return "not published"
    location = location_object(locations_load(rows)[0], tariffs=TariffChooser())
    evse = next((e for e in location.get("evses", []) if e["uid"] == str(connector_pk)), None)
    if evse is None:
        return "not an EVSE"
    token = token_decrypt(party.outgoing_token_encrypted)
    base = f"{url.rstrip('/')}/{location['country_code']}/{location['party_id']}/{location['id']}"
    try:
        ocpi_call(
            method="PATCH",
            url=f"{base}/{evse['uid']}",
            token=token,
            party=party,
            body={"status": evse["status"], "last_updated": evse["last_updated"]},
        )
        return "patched"
    except PartnerError as exc:
        if exc.http_status != 404 and exc.status_code != 2003:
            raise
    ocpi_call(method="PUT", url=base, token=token, party=party, body=location)
    location_copy_record(party, location)  # the data push need not send it again
    return "put"
