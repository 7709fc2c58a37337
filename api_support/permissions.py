"""Who may do what: operators by Django model permission, drivers read-only.

Operators are staff users; what each may do is their Django model
permissions (viewing needs the `view` permission too). Everyone else who is
signed in is a driver: they read the collections open to them, and the
viewsets narrow those to the driver's own rows.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions


def is_operator(user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


class OperatorModelPermissions(DjangoModelPermissions):
    """Staff users with the model permission of the request (view included)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }
    message = _("You do not have the permission for this operation.")

    def has_permission(self, request, view):
        user = request.user
        if user and user.is_authenticated and request.method not in view.allowed_methods:
            return True  # the view answers 405, as for anyone
        if user and user.is_authenticated and not user.is_staff:
            return False
        return super().has_permission(request, view)


class OperatorOrDriverReadOnly(OperatorModelPermissions):
    """Operators by model permission; drivers may read (their own rows, by the queryset)."""

    def has_permission(self, request, view):
        user = request.user
        if user and user.is_authenticated and not user.is_staff:
            if request.method in SAFE_METHODS or request.method not in view.allowed_methods:
                return True
            self.message = _("Drivers cannot change this resource.")
            return False
        return super().has_permission(request, view)


class AnonymousMapAllowed(BasePermission):
    """Lets callers without a token read, while the API_ANONYMOUS_MAP setting allows it.

    For what a map or a price shows before sign-in. It grants nothing to a
    signed-in user, so combine it with the view's own rule:
    `permission_classes = [AnonymousMapAllowed | OperatorOrDriverReadOnly]`.
    With the setting off, anonymous calls get the other rule's 401.
    """

    def has_permission(self, request, view):
        user = request.user
        return (
            request.method in SAFE_METHODS
            and not (user and user.is_authenticated)
            and bool(getattr(settings, "API_ANONYMOUS_MAP", False))
        )
