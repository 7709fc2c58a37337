"""Shapes of sign-in, devices, password reset and account deletion in the API."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from ..models import DeviceToken
from ..services import DEVICE_NAME_MAX_LENGTH


def _password(**kwargs):
    return serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}, **kwargs
    )


class DeviceNameField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", DEVICE_NAME_MAX_LENGTH)
        kwargs.setdefault(
            "help_text",
            _(
                'How the device is listed, e.g. "Alice\'s Pixel 8" (default: its User-Agent). '
                "Sending it also returns `device_id` and `expires_at`."
            ),
        )
        super().__init__(**kwargs)


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = _password()
    device_name = DeviceNameField(required=False, allow_blank=True)


class DeviceFieldsOptional(serializers.Serializer):
    """`device_id` and `expires_at` only when given (a token of a named device)."""

    OPTIONAL = ("device_id", "expires_at")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in self.OPTIONAL:
            if name not in instance:
                data.pop(name, None)
        return data


class TokenResultSerializer(DeviceFieldsOptional):
    token = serializers.CharField(help_text=_("Send as `Authorization: Token <token>`."))
    device_id = serializers.IntegerField(
        required=False, help_text=_("Only when `device_name` was sent: this device's id.")
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text=_(
            "Only when `device_name` was sent: when the token expires unless used (each use "
            "moves it; null: never)."
        ),
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A signed-in phone",
            value={
                "id": 31,
                "name": "Alice's Pixel 8",
                "key_prefix": "9944b091",
                "created_at": "2026-11-02T08:15:00Z",
                "last_used_at": "2026-12-01T18:40:00Z",
                "expires_at": "2027-03-01T18:40:00Z",
                "current": True,
            },
            response_only=True,
        )
    ]
)
class DeviceSerializer(serializers.ModelSerializer):
    """A device signed in to the account (its token), as its owner sees it."""

    current = serializers.SerializerMethodField(
        help_text=_("True for the device making this request.")
    )
    name = DeviceNameField(help_text=_("How the device is listed; rename it with PATCH."))

    class Meta:
        model = DeviceToken
        fields = ["id", "name", "key_prefix", "created_at", "last_used_at", "expires_at", "current"]
        read_only_fields = ["id", "key_prefix", "created_at", "last_used_at", "expires_at"]

    def get_current(self, device) -> bool:
        request = self.context.get("request")
        auth = getattr(request, "auth", None)
        return isinstance(auth, DeviceToken) and auth.pk == device.pk


class RevokedSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text=_("How many devices were signed out."))


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64, help_text=_("`{uid}` of the link."))
    token = serializers.CharField(max_length=128, help_text=_("`{token}` of the link."))
    new_password = _password(help_text=_("Checked by the password rules (length, common ones)."))


class AccountDeleteSerializer(serializers.Serializer):
    password = _password(help_text=_("The account's current password, to confirm."))


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
