"""Operators manage roaming partners: create (token A), list, read, delete, connect."""

from __future__ import annotations

from django.db import IntegrityError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api_support.permissions import OperatorModelPermissions
from api_support.schema import COMMON_ERRORS, READ_ERRORS, crud_schema, error, invalid
from api_support.views import ApiViewMixin

from ..models import Party
from ..ocpi.base import ocpi_base_url
from ..services import (
    HandshakeError,
    WrongRegistrationState,
    party_connect,
    party_create,
    party_delete,
)
from .serializers import PartyConnectSerializer, PartyCreatedSerializer, PartySerializer

_DOCS = crud_schema(
    tag="roaming",
    serializer=PartySerializer,
    noun="roaming partner",
    plural="roaming partners",
    list_description="OCPI parties (eMSPs, hubs ...) we roam with, and where each is in the "
    "credentials handshake.",
    invalid_example={"party_id": ["Use 3 letters or digits, e.g. ABC."]},
)
# A partner changes through the credentials handshake, never by an edit here.
del _DOCS["update"], _DOCS["partial_update"]
_DOCS["create"] = extend_schema(
    tags=["roaming"],
    summary="Create a roaming partner",
    description=(
        "Creates a partner waiting to register and answers its token A (shown only now, "
        "stored hashed) and our OCPI versions URL. Give both to the partner out of band; "
        "it then runs the OCPI 2.2.1 credentials handshake, and token A stops working. "
        "400 when a partner with this country code, party id and role exists (409 if "
        "created by a parallel request in between)."
    ),
    request=PartySerializer,
    responses={
        201: PartyCreatedSerializer,
        400: invalid({"party_id": ["Use 3 letters or digits, e.g. ABC."]}),
        409: error("Partner exists", "A partner with this country code, party id and role exists."),
        **COMMON_ERRORS,
    },
)
_DOCS["destroy"] = extend_schema(
    tags=["roaming"],
    summary="Delete a roaming partner",
    description=(
        "Deletes the partner and its tokens (204); the id tags of its drivers are blocked "
        "(kept for the sessions' history) and its journal rows stay, unlinked."
    ),
    responses={204: None, **READ_ERRORS},
)


@extend_schema_view(
    **_DOCS,
    connect=extend_schema(
        tags=["roaming"],
        summary="Register with a roaming partner",
        description=(
            "The other direction of the handshake: with the versions URL and token A a partner "
            "gave us, we read its endpoints, send our credentials and keep its token. Answers "
            "the partner (200); 502 naming the OCPI status when the partner cannot be used, "
            "409 when it is registered already."
        ),
        request=PartyConnectSerializer,
        responses={
            200: PartySerializer,
            400: invalid({"versions_url": ["Enter a valid URL."]}),
            409: error("Registered already", "The partner is registered already."),
            502: error("Partner unusable", "OCPI 3001: cannot read the partner's versions"),
            **READ_ERRORS,
        },
    ),
)
class PartyViewSet(
    ApiViewMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Party.objects.all()
    serializer_class = PartySerializer
    permission_classes = [OperatorModelPermissions]
    lookup_value_regex = r"[0-9]+"
    search_fields = ["name", "party_id"]
    ordering_fields = ["name", "created_at", "registered_at"]

    def perform_destroy(self, instance):
        party_delete(party=instance)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        try:
            party, token_a = party_create(
                name=fields["name"],
                country_code=fields["country_code"],
                party_id=fields["party_id"],
                role=fields["role"],
            )
        except IntegrityError:
            return Response(
                {"detail": "A partner with this country code, party id and role exists."},
                status=status.HTTP_409_CONFLICT,
            )
        body = {
            "id": party.pk,
            "token_a": token_a,
            "versions_url": f"{ocpi_base_url(request)}/versions",
        }
        return Response(PartyCreatedSerializer(body).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], serializer_class=PartyConnectSerializer)
    def connect(self, request, pk=None):
        party = self.get_object()
        serializer = PartyConnectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            party_connect(
                party=party,
                versions_url=serializer.validated_data["versions_url"],
                token_a=serializer.validated_data["token"],
                our_versions_url=f"{ocpi_base_url(request)}/versions",
            )
        except WrongRegistrationState:
            return Response(
                {"detail": "The partner is registered already."}, status=status.HTTP_409_CONFLICT
            )
        except HandshakeError as exc:
            if exc.status_code == 2001:
                raise serializers.ValidationError({"token": [exc.message]}) from exc
            return Response(
                {"detail": f"OCPI {exc.status_code}: {exc.message}"},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        party.refresh_from_db()
        return Response(PartySerializer(party).data)
