"""Sign-in per device, signed-in devices, sign-out, password reset, account deletion."""

from __future__ import annotations

from django.contrib.auth import authenticate, logout, user_logged_in
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api_support.exceptions import TooManyAttempts
from api_support.schema import COMMON_ERRORS, READ_ERRORS, error, invalid
from api_support.views import ApiViewMixin

from ..models import DeviceToken
from ..selectors import device_token_list
from ..services import device_token_rename, device_token_revoke, user_password_reset
from ..signin import signin_lockout_clear, signin_lockout_remaining
from .account_serializers import (
    AccountDeleteSerializer,
    DetailSerializer,
    DeviceSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    RevokedSerializer,
    TokenRequestSerializer,
    TokenResultSerializer,
)
from .authentication import adopt_legacy_tokens
from .mail import password_reset_request
from .serializers import call_service
from .tokens import account_erase, device_sign_in, sign_out_everywhere

LOCKED_OUT = error("Signing in is locked", "Too many failed sign-in attempts; try again in 840 s.")
WRONG_CREDENTIALS = _("Unable to log in with provided credentials.")


def refuse_while_locked(request, *, username: str) -> None:
    """429 with Retry-After while this username is locked out from this address."""
    seconds = signin_lockout_remaining(request, username=username)
    if seconds is not None:
        raise TooManyAttempts(
            _("Too many failed sign-in attempts; try again in %(seconds)d s.")
            % {"seconds": seconds},
            code="locked_out",
            retry_after=seconds,
        )


def current_device(request) -> DeviceToken | None:
    return request.auth if isinstance(request.auth, DeviceToken) else None


def adopt_for(request) -> None:
    """Show the user's DRF tokens as devices; a request made with one goes on as that device."""
    current = request.auth if isinstance(request.auth, Token) else None
    adopted = adopt_legacy_tokens(
        user=request.user,
        current=current,
        user_agent=request.headers.get("User-Agent", ""),
    )
    if current is not None and current.key in adopted:
        request.auth = adopted[current.key]


@extend_schema(
    tags=["auth"],
    summary="Sign in: get an API token for this device",
    auth=[],
    description=(
        "Checks the username (any case) and password and returns a new token for this "
        "device: send it as `Authorization: Token <token>`. Each sign-in is a device of "
        "its own (`GET auth/devices/`), so signing out on one phone leaves the others "
        "signed in. With `device_name` the answer also carries `device_id` and "
        '`expires_at`; without, it is exactly `{"token"}`.\n\n'
        "A token expires `API_TOKEN_TTL_DAYS` (90) days after its last use; any 401 "
        "means: forget the token and sign in again.\n\n"
        "After `AXES_FAILURE_LIMIT` (5) wrong passwords for a username from one address, "
        "that pair is locked for `AXES_COOLOFF_MINUTES` (15) after the last failure: 429 "
        "with `Retry-After`, the right password included. A password reset by e-mail "
        "lifts the lock."
    ),
    request=TokenRequestSerializer,
    responses={
        200: TokenResultSerializer,
        400: invalid({"non_field_errors": [str(WRONG_CREDENTIALS)]}),
        429: LOCKED_OUT,
    },
    examples=[
        OpenApiExample(
            "Credentials",
            value={
                "username": "alice",
                "password": "a-long-passphrase-42",
                "device_name": "Alice's Pixel 8",
            },
            request_only=True,
        ),
        OpenApiExample(
            "Token",
            value={
                "token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
                "device_id": 31,
                "expires_at": "2027-03-01T18:40:00Z",
            },
            response_only=True,
        ),
    ],
)
class TokenObtainView(ApiViewMixin, APIView):
    # A stale token sent along must not stop anyone from signing in again.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        refuse_while_locked(request, username=username)
        user = authenticate(
            request=request, username=username, password=serializer.validated_data["password"]
        )
        if user is None:
            raise serializers.ValidationError({"non_field_errors": [WRONG_CREDENTIALS]})
        # What a console login does too: the lockout's success record, last_login.
        user_logged_in.send(sender=type(user), request=request, user=user)
        device_name = serializer.validated_data.get("device_name", "")
        issued = device_sign_in(
            user=user, device_name=device_name or request.headers.get("User-Agent", "")
        )
        body = {"token": issued.key}
        if device_name:
            body["device_id"] = issued.device.pk
            body["expires_at"] = issued.device.expires_at
        return Response(TokenResultSerializer(body).data)


@extend_schema(
    tags=["auth"],
    summary="Sign out this device",
    description=(
        "Revokes the token this request is made with (other devices stay signed in); "
        "signed in with the console's session, ends that session. Everywhere at once: "
        "`POST auth/devices/revoke-all/`."
    ),
    request=None,
    responses={204: None, **COMMON_ERRORS},
)
class LogoutView(ApiViewMixin, APIView):
    def post(self, request):
        device = current_device(request)
        if device is not None:
            device_token_revoke(device=device)
        elif isinstance(request.auth, Token):  # a DRF token, not yet a device
            request.auth.delete()
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        tags=["auth"],
        summary="My signed-in devices",
        description=(
            "Every device (sign-in) whose token still works, most recently used first; "
            "`current` marks the one making this request. `last_used_at` is updated at "
            "most every 5 minutes."
        ),
        responses={200: DeviceSerializer(many=True), **COMMON_ERRORS},
    ),
    partial_update=extend_schema(
        tags=["auth"],
        summary="Rename a device",
        description="Changes how the device is listed (`name`, at most 100 characters).",
        responses={
            200: DeviceSerializer,
            400: invalid({"name": ["This field may not be blank."]}),
            **READ_ERRORS,
        },
    ),
    destroy=extend_schema(
        tags=["auth"],
        summary="Sign out a device",
        description=(
            "Revokes that device's token at once (e.g. a lost phone); it may be this one."
        ),
        responses={204: None, **READ_ERRORS},
    ),
)
class DeviceViewSet(
    ApiViewMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = DeviceSerializer
    ordering_fields = ["created_at", "last_used_at", "name"]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        adopt_for(request)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return DeviceToken.objects.none()
        return device_token_list(user=self.request.user)

    def partial_update(self, request, *args, **kwargs):
        device = self.get_object()
        serializer = self.get_serializer(device, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "name" in serializer.validated_data:
            device_token_rename(device=device, name=serializer.validated_data["name"])
        return Response(self.get_serializer(device).data)

    def perform_destroy(self, instance):
        device_token_revoke(device=instance)

    @extend_schema(
        tags=["auth"],
        summary="Sign out all other devices",
        description=(
            "Revokes every token of the account but the one making this request (from "
            "a console session: all of them)."
        ),
        request=None,
        responses={200: RevokedSerializer, **COMMON_ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="revoke-others")
    def revoke_others(self, request):
        revoked = sign_out_everywhere(user=request.user, keep=current_device(request))
        return Response({"revoked": revoked})

    @extend_schema(
        tags=["auth"],
        summary="Sign out everywhere",
        description=(
            'Revokes every token of the account, this one included ("log out '
            'everywhere", e.g. after a phone was stolen). Sign in again for a new one.'
        ),
        request=None,
        responses={200: RevokedSerializer, **COMMON_ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="revoke-all")
    def revoke_all(self, request):
        return Response({"revoked": sign_out_everywhere(user=request.user)})


RESET_SENT = _("If an account has this address, a link to reset its password is on its way.")


@extend_schema(
    tags=["auth"],
    summary="Forgot password: e-mail a reset link",
    auth=[],
    description=(
        "Always answers 202 with the same message, whether or not an account has the "
        "address (no account enumeration). An active account with it gets an e-mail with "
        "`PASSWORD_RESET_URL` (the app's deep link) holding `uid` and `token`; the app "
        "posts them with the new password to `auth/password-reset/confirm/`. At most one "
        "mail per account a minute; `API_THROTTLE_PASSWORD_RESET` (5/hour) requests per "
        "address, then 429 with `Retry-After`."
    ),
    request=PasswordResetRequestSerializer,
    responses={
        202: DetailSerializer,
        400: invalid({"email": ["Enter a valid email address."]}),
        429: error(
            "Too many requests", "Request was throttled. Expected available in 600 seconds."
        ),
    },
    examples=[OpenApiExample("Sent", value={"detail": str(RESET_SENT)}, response_only=True)],
)
class PasswordResetView(ApiViewMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_scope = "password_reset"

    def post(self, request):
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_request(email=serializer.validated_data["email"])
        return Response({"detail": RESET_SENT}, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=["auth"],
    summary="Set a new password with a reset link",
    auth=[],
    description=(
        "Takes `uid` and `token` from the link and the new password. On success (204) "
        "every device of the account is signed out and a sign-in lockout is lifted: sign "
        "in with the new password. A wrong, used or expired link is a 400 under `token` "
        "(ask for a new one); a password the rules refuse, a 400 under `new_password`."
    ),
    request=PasswordResetConfirmSerializer,
    responses={
        204: None,
        400: invalid({"new_password": ["This password is too common."]}),
        429: error("Too many requests", "Request was throttled. Expected available in 42 seconds."),
    },
)
class PasswordResetConfirmView(ApiViewMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            user = call_service(
                user_password_reset,
                uid=data["uid"],
                token=data["token"],
                password=data["new_password"],
            )
        except serializers.ValidationError as exc:
            errors = dict(exc.detail)
            if "password" in errors:  # the service's field is this form's new_password
                errors["new_password"] = errors.pop("password")
            raise serializers.ValidationError(errors) from exc
        sign_out_everywhere(user=user)
        signin_lockout_clear(username=user.get_username())
        return Response(status=status.HTTP_204_NO_CONTENT)


def account_delete_view(request):
    """DELETE me/: the signed-in user deletes their own account (MeView.delete)."""
    user = request.user
    if user.is_staff:
        raise PermissionDenied(_("Operator accounts are removed in the console."))
    serializer = AccountDeleteSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    refuse_while_locked(request, username=user.get_username())
    confirmed = authenticate(
        request=request,
        username=user.get_username(),
        password=serializer.validated_data["password"],
    )
    if confirmed is None or confirmed.pk != user.pk:
        raise serializers.ValidationError({"password": [_("Wrong password.")]})
    account_erase(user=user)
    return Response(status=status.HTTP_204_NO_CONTENT)


ACCOUNT_DELETE_SCHEMA = extend_schema(
    tags=["me"],
    summary="Delete my account",
    description=(
        "Confirm with the current password. Erased: username (replaced by a random "
        "placeholder), e-mail, names, phone, password, sign-in records; every device is "
        "signed out and the id tags are blocked (a card or app tag can never start a "
        "session again). Kept, anonymised: sessions and invoices (the operator must keep "
        "its books; they stay linked to the anonymised account through the blocked id "
        "tags). Operator accounts: 403 (they are removed in the console). A wrong password "
        "is a 400 under `password` and counts towards the sign-in lockout (then 429)."
    ),
    request=AccountDeleteSerializer,
    responses={
        204: None,
        400: invalid({"password": ["Wrong password."]}),
        429: LOCKED_OUT,
        **{code: response for code, response in COMMON_ERRORS.items() if code != 429},
    },
)
