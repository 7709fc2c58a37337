"""Id tags, driver accounts, sign-up, sign-in and the signed-in user's own data."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
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
from .serializers import (
    DriverIdTagSerializer,
    DriverSerializer,
    IdTagSerializer,
    ProfileSerializer,
    SignupResultSerializer,
    SignupSerializer,
    TokenSerializer,
    call_service,
)
from .tokens import auth_token_revoke, driver_signup


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
    ordering_fields = ["id_tag", "status", "expiry_date", "created_at"]

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
    summary="Sign in: get an API token",
    auth=[],
    description="Send the token as `Authorization: Token <token>` with every request.",
    request=AuthTokenSerializer,
    responses={
        200: TokenSerializer,
        400: invalid({"non_field_errors": ["Unable to log in with provided credentials."]}),
        429: THROTTLED,
    },
    examples=[
        OpenApiExample(
            "Credentials",
            value={"username": "alice", "password": "a-long-passphrase-42"},
            request_only=True,
        ),
        OpenApiExample(
            "Token",
            value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"},
            response_only=True,
        ),
    ],
)
class TokenObtainView(ApiViewMixin, ObtainAuthToken):
    pass


@extend_schema(
    tags=["auth"],
    summary="Sign out: revoke the API token",
    request=None,
    responses={204: None, **COMMON_ERRORS},
)
class LogoutView(ApiViewMixin, APIView):
    def post(self, request):
        auth_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["auth"],
    summary="Sign up as a driver",
    auth=[],
    description=(
        "Creates the account with one virtual id tag (20 hexadecimal characters) for "
        "starting sessions from the app, and returns an API token."
    ),
    request=SignupSerializer,
    responses={
        201: SignupResultSerializer,
        400: invalid({"password": ["This password is too short."]}),
        429: THROTTLED,
    },
)
class SignupView(ApiViewMixin, APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        driver, token = call_service(driver_signup, **serializer.validated_data)
        result = SignupResultSerializer(
            {
                "token": token,
                "profile": driver.user,
                "id_tags": idtag_list(user=driver.user),
            }
        )
        return Response(result.data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        tags=["me"], summary="My profile", responses={200: ProfileSerializer, **COMMON_ERRORS}
    ),
    patch=extend_schema(
        tags=["me"],
        summary="Update my profile",
        responses={
            200: ProfileSerializer,
            400: invalid({"email": ["Enter a valid email address."]}),
            **COMMON_ERRORS,
        },
    ),
)
class MeView(ApiViewMixin, generics.RetrieveUpdateAPIView):
    serializer_class = ProfileSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user


@extend_schema(
    tags=["me"],
    summary="My id tags",
    responses={200: DriverIdTagSerializer(many=True), **COMMON_ERRORS},
)
class MyIdTagList(ApiViewMixin, generics.ListAPIView):
    serializer_class = DriverIdTagSerializer
    filterset_class = IdTagFilterSet
    ordering_fields = ["id_tag", "created_at"]

    def get_queryset(self):
        return idtag_list(user=self.request.user)
