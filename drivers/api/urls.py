from django.urls import path
from rest_framework.routers import SimpleRouter

from . import account_views, views

router = SimpleRouter()
router.register("id-tags", views.IdTagViewSet, basename="idtag")
router.register("drivers", views.DriverViewSet, basename="driver")
router.register("auth/devices", account_views.DeviceViewSet, basename="device")

urlpatterns = [
    *router.urls,
    path("auth/token/", account_views.TokenObtainView.as_view(), name="api-token"),
    path("auth/logout/", account_views.LogoutView.as_view(), name="api-logout"),
    path(
        "auth/password-reset/",
        account_views.PasswordResetView.as_view(),
        name="api-password-reset",
    ),
    path(
        "auth/password-reset/confirm/",
        account_views.PasswordResetConfirmView.as_view(),
        name="api-password-reset-confirm",
    ),
    path("auth/signup/", views.SignupView.as_view(), name="api-signup"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/id-tags/", views.MyIdTagList.as_view(), name="me-id-tags"),
]
