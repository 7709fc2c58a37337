"""Id tags, driver accounts, sign-up, sign-in and the signed-in user's own data."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api_support.permissions import (
    OperatorModelPermissions,
    OperatorOrDriverReadOnly,
    is_operator,
)
from api_support.schema import COMMON_ERRORS, THROTTLED, crud_schema, invalid
from api_support.views import ApiViewMixin, IdempotentCreateMixin

from ..filtersets import DriverFilterSet, IdTagFilterSet
from ..selectors import driver_list, idtag_list
from .account_views import ACCOUNT_DELETE_SCHEMA, account_delete_view
from .serializers import (
    DriverIdTagSerializer,
    DriverSerializer,
    IdTagSerializer,
    ProfileSerializer,
    SignupResultSerializer,
    SignupSerializer,
    call_service,
)
from .tokens import driver_signup


@extend_schema_view(
    **crud_schema(
        tag="id tags",
        serializer=IdTagSerializer,
        noun="id tag",
        plural="id tags",
        list_description=(
            "RFID cards and app tokens. The lookup is the tag value, in any case "
            "(`/id-tags/04a2b3c4d5/` finds `04A2B3C4D5`). A driver sees only their own."
        ),
        invalid_example={"id_tag": ["An id tag with this value exists (id tags ignore case)."]},
    )
)
class IdTagViewSet(ApiViewMixin, IdempotentCreateMixin, viewsets.ModelViewSet):
    lookup_field = "id_tag"
    lookup_value_regex = r"[^/]+"
    permission_classes = [OperatorOrDriverReadOnly]
    filterset_class = IdTagFilterSet
    search_fields = ["id_tag", "note", "driver__user__username", "driver__user__email"]
    ordering_fields = ["id_tag", "status", "expiry_date", "created_at", "updated_at"]
    sync_cursor = True

    def get_queryset(self):
        user = self.request.user
        return idtag_list(user=None if is_operator(user) else user)

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or is_operator(self.request.user):
            return IdTagSerializer
        return DriverIdTagSerializer

    def get_object(self):
        queryset = self.filter_queryset(self.get_queryset())
        tag = get_object_or_404(queryset, id_tag__iexact=self.kwargs["id_tag"])
        self.check_object_permissions(self.request, tag)
        return tag


@extend_schema_view(
    **crud_schema(
        tag="drivers",
        serializer=DriverSerializer,
        noun="driver",
        plural="drivers",
        list_description="Driver accounts (operators only). Deactivate with is_active=false.",
        destroy=False,
        invalid_example={"username": ["A user with that username already exists."]},
    )
)
class DriverViewSet(
    ApiViewMixin,
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = DriverSerializer
    permission_classes = [OperatorModelPermissions]
    filterset_class = DriverFilterSet
    search_fields = [
        "user__username",
        "user__email",
        "user__first_name",
        "user__last_name",
        "phone",
    ]
    ordering_fields = ["created_at", "user__username"]

    def get_queryset(self):
        return driver_list()


# --- accounts ------------------------------------------------------------------


@extend_schema(
    tags=["auth"],
    summary="Sign up as a driver",
    auth=[],
    description=(
        "Creates the account with one virtual id tag (20 hexadecimal characters) for "
        "starting sessions from the app, and returns an API token. With `device_name` "
        "the token is that device's (listed under `auth/devices/`) and the answer also "
        "carries `device_id` and `expires_at`."
    ),
    request=SignupSerializer,
    responses={
        201: SignupResultSerializer,
        400: invalid({"password": ["This password is too short."]}),
        429: THROTTLED,
    },
)
class SignupView(ApiViewMixin, APIView):
    authentication_classes: list = []  # a stale token sent along must not stop a sign-up
    permission_classes = [AllowAny]

    def post(self, request):
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        driver, issued = call_service(driver_signup, **serializer.validated_data)
        result = {
            "token": issued.key,
            "profile": driver.user,
            "id_tags": idtag_list(user=driver.user),
        }
        if issued.device is not None:
            result["device_id"] = issued.device.pk
            result["expires_at"] = issued.device.expires_at
        return Response(SignupResultSerializer(result).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        tags=["me"],
        summary="My profile",
        description="The signed-in user's account: names, e-mail, phone, role.",
        responses={200: ProfileSerializer, **COMMON_ERRORS},
    ),
    patch=extend_schema(
        tags=["me"],
        summary="Update my profile",
        description=(
            "Changes the fields sent (e-mail, names; phone for drivers). The username "
            "cannot change; an e-mail address another account has is a 400."
        ),
        responses={
            200: ProfileSerializer,
            400: invalid({"email": ["Enter a valid email address."]}),
            **COMMON_ERRORS,
        },
    ),
)
class MeView(ApiViewMixin, generics.RetrieveUpdateAPIView):
    serializer_class = ProfileSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        return self.request.user

    @ACCOUNT_DELETE_SCHEMA
    def delete(self, request):
        return account_delete_view(request)


@extend_schema(
    tags=["me"],
    summary="My id tags",
    description=(
        "The signed-in driver's RFID cards and app tags with their status (Accepted, "
        "Blocked, ...) and expiry."
    ),
    responses={200: DriverIdTagSerializer(many=True), **COMMON_ERRORS},
)
class MyIdTagList(ApiViewMixin, generics.ListAPIView):
    serializer_class = DriverIdTagSerializer
    filterset_class = IdTagFilterSet
    ordering_fields = ["id_tag", "created_at", "updated_at"]
    sync_cursor = True

    def get_queryset(self):
        return idtag_list(user=self.request.user)
