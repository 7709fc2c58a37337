"""Shapes of drivers, id tags and accounts in the API."""

from __future__ import annotations

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from ..choices import AuthorizationStatus
from ..models import Driver, IdTag, User, validate_idtag_parent
from ..services import driver_create, driver_update, user_profile_update
from .account_serializers import DeviceFieldsOptional, DeviceNameField

# Early and under its field: "ALICE" is taken when "alice" is (User's constraint
# says the same, and also guards the e-mail address).
USERNAME_TAKEN = UniqueValidator(
    queryset=User.objects.all(),
    lookup="iexact",
    message="A user with that username already exists (usernames ignore case).",
)


def call_service(function, **kwargs):
    """Run a service; its Django ValidationError becomes the API's field errors."""
    try:
        return function(**kwargs)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc


@extend_schema_field(
    {"type": "string", "enum": AuthorizationStatus.values},
    component_name="AuthorizationStatusEnum",
)
class AuthorizationStatusField(serializers.ChoiceField):
    """An id tag's OCPP AuthorizationStatus (one named enum in the schema)."""

    def __init__(self, **kwargs):
        super().__init__(choices=AuthorizationStatus.choices, **kwargs)


class IdTagValueField(serializers.SlugRelatedField):
    """Another id tag, named by its value (case-insensitive, like OCPP's CiString20)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="id_tag", **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        tag = self.get_queryset().filter(id_tag__iexact=data).first()
        if tag is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return tag


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "RFID card",
            value={
                "id_tag": "04A2B3C4D5",
                "status": "Accepted",
                "expiry_date": "2027-12-31T23:59:59Z",
                "parent_id_tag": "FLEET-ACME",
                "driver": 12,
                "note": "Card no. 0042",
            },
            request_only=True,
        )
    ]
)
class IdTagSerializer(serializers.ModelSerializer):
    """An id tag as operators see and edit it."""

    parent_id_tag = IdTagValueField(
        source="parent", queryset=IdTag.objects.all(), allow_null=True, required=False
    )
    driver = serializers.PrimaryKeyRelatedField(
        queryset=Driver.objects.all(), allow_null=True, required=False
    )
    status = AuthorizationStatusField(required=False)

    class Meta:
        model = IdTag
        fields = [
            "id_tag",
            "status",
            "expiry_date",
            "parent_id_tag",
            "driver",
            "note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_id_tag(self, value: str) -> str:
        """Check the value against the model's case-insensitive uniqueness constraint."""
        value = value.strip()
        candidate = copy.copy(self.instance) if self.instance is not None else IdTag()
        candidate.id_tag = value
        try:
            candidate.validate_constraints()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value

    def validate_parent_id_tag(self, parent: IdTag | None) -> IdTag | None:
        try:
            validate_idtag_parent(
                tag_pk=self.instance.pk if self.instance is not None else None,
                parent_pk=parent.pk if parent is not None else None,
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return parent


class DriverIdTagSerializer(serializers.ModelSerializer):
    """An id tag as its driver sees it."""

    parent_id_tag = serializers.SlugRelatedField(
        source="parent", slug_field="id_tag", read_only=True
    )
    status = AuthorizationStatusField(read_only=True)

    class Meta:
        model = IdTag
        fields = ["id_tag", "status", "expiry_date", "parent_id_tag", "driver", "updated_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Create a driver account",
            value={
                "username": "alice",
                "email": "alice@example.com",
                "first_name": "Alice",
                "last_name": "Smith",
                "phone": "+31 6 12345678",
                "password": "a-long-passphrase-42",
            },
            request_only=True,
        )
    ]
)
class DriverSerializer(serializers.ModelSerializer):
    """A driver account, for operators."""

    username = serializers.CharField(
        source="user.username",
        max_length=150,
        validators=[USERNAME_TAKEN],
    )
    email = serializers.EmailField(source="user.email", required=False, allow_blank=True)
    first_name = serializers.CharField(
        source="user.first_name", required=False, allow_blank=True, max_length=150
    )
    last_name = serializers.CharField(
        source="user.last_name", required=False, allow_blank=True, max_length=150
    )
    is_active = serializers.BooleanField(source="user.is_active", required=False, default=True)
    password = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Sets the sign-in password on creation; without one the driver cannot sign in.",
    )
    id_tags = serializers.SlugRelatedField(
        slug_field="id_tag", many=True, read_only=True, help_text="The driver's id tags."
    )

    class Meta:
        model = Driver
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "phone",
            "is_active",
            "password",
            "id_tags",
            "created_at",
        ]
        read_only_fields = ["id", "id_tags", "created_at"]

    def validate(self, attrs):
        if self.instance is not None:
            if "password" in attrs:
                raise serializers.ValidationError(
                    {"password": ["Set on creation only; the driver changes it."]}
                )
            user = attrs.get("user", {})
            if "username" in user and user["username"] != self.instance.user.username:
                raise serializers.ValidationError({"username": ["Cannot be changed."]})
        return attrs

    def create(self, validated_data):
        user = validated_data.pop("user")
        return call_service(
            driver_create,
            password=validated_data.get("password"),
            phone=validated_data.get("phone", ""),
            **user,
        )

    def update(self, instance, validated_data):
        fields = dict(validated_data.pop("user", {}))
        fields.pop("username", None)
        if "phone" in validated_data:
            fields["phone"] = validated_data["phone"]
        return call_service(driver_update, driver=instance, **fields)


class SignupSerializer(serializers.Serializer):
    """A new account; the username and e-mail are taken ignoring case (the model's rule)."""

    username = serializers.CharField(max_length=150, validators=[USERNAME_TAKEN])
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=150)
    phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    device_name = DeviceNameField(required=False, allow_blank=True, default="")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Profile",
            value={
                "id": 12,
                "username": "alice",
                "email": "alice@example.com",
                "first_name": "Alice",
                "last_name": "Smith",
                "phone": "+31 6 12345678",
                "is_operator": False,
                "driver": 5,
            },
            response_only=True,
        )
    ]
)
class ProfileSerializer(serializers.ModelSerializer):
    """The signed-in user's own profile."""

    phone = serializers.CharField(
        source="driver.phone",
        required=False,
        allow_blank=True,
        max_length=32,
        allow_null=True,
        help_text="Drivers only (null for an account without a driver profile).",
    )
    is_operator = serializers.BooleanField(source="is_staff", read_only=True)
    driver = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "phone",
            "is_operator",
            "driver",
        ]
        read_only_fields = ["id", "username", "is_operator", "driver"]

    def update(self, instance, validated_data):
        fields = dict(validated_data)
        driver_fields = fields.pop("driver", {})
        if driver_fields.get("phone") is not None:
            fields["phone"] = driver_fields["phone"]
        return call_service(user_profile_update, user=instance, **fields)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Signed up",
            value={
                "token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
                "profile": {
                    "id": 12,
                    "username": "alice",
                    "email": "alice@example.com",
                    "first_name": "",
                    "last_name": "",
                    "phone": "",
                    "is_operator": False,
                    "driver": 5,
                },
                "id_tags": [
                    {
                        "id_tag": "3F2A9C0B7D1E4A6B8C9D",
                        "status": "Accepted",
                        "expiry_date": None,
                        "parent_id_tag": None,
                        "driver": 5,
                    }
                ],
            },
            response_only=True,
        )
    ]
)
class SignupResultSerializer(DeviceFieldsOptional):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    profile = ProfileSerializer()
    id_tags = DriverIdTagSerializer(many=True)
    device_id = serializers.IntegerField(
        required=False, help_text="Only when `device_name` was sent: this device's id."
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Only when `device_name` was sent: when the token expires unless used.",
    )
