from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("id-tags", views.IdTagViewSet, basename="idtag")
router.register("drivers", views.DriverViewSet, basename="driver")

urlpatterns = [
    *router.urls,
    path("auth/token/", views.TokenObtainView.as_view(), name="api-token"),
    path("auth/logout/", views.LogoutView.as_view(), name="api-logout"),
    path("auth/signup/", views.SignupView.as_view(), name="api-signup"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/id-tags/", views.MyIdTagList.as_view(), name="me-id-tags"),
]
