"""Roaming partners over the REST API (operators)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from stations.models.location_data import COUNTRY_CODE, PARTY_ID

from ..models import Party


class PartySerializer(serializers.ModelSerializer):
    """A roaming partner as operators see it: never a token."""

    endpoints = serializers.JSONField(read_only=True, help_text="The partner's OCPI endpoints.")
    roles = serializers.JSONField(
        read_only=True, help_text="The partner's CredentialsRoles, as it registered them."
    )

    class Meta:
        model = Party
        fields = [
            "id",
            "name",
            "country_code",
            "party_id",
            "role",
            "status",
            "roles",
            "versions_url",
            "version",
            "endpoints",
            "registered_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "versions_url",
            "version",
            "registered_at",
            "created_at",
            "updated_at",
        ]

    def validate_country_code(self, value: str) -> str:
        value = value.upper()
        if not COUNTRY_CODE.fullmatch(value):
            raise serializers.ValidationError(_("Use the ISO 3166-1 alpha-2 code, e.g. NL."))
        return value

    def validate_party_id(self, value: str) -> str:
        value = value.upper()
        if not PARTY_ID.fullmatch(value):
            raise serializers.ValidationError(_("Use 3 letters or digits, e.g. ABC."))
        return value


class PartyCreatedSerializer(serializers.Serializer):
    """What the operator passes to the partner, out of band: token A and our versions URL."""

    id = serializers.IntegerField()
    token_a = serializers.CharField(
        help_text="The partner's one-time registration token; shown only now."
    )
    versions_url = serializers.URLField(help_text="Our OCPI versions endpoint.")


class PartyConnectSerializer(serializers.Serializer):
    """A partner's versions URL and the token A it gave us, for us to register with it."""

    versions_url = serializers.URLField(max_length=500)
    token = serializers.CharField(max_length=64, help_text="The partner's token A.")
