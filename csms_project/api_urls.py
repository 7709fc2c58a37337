from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api_support.views import NotFoundView

v1 = [
    path("", include("drivers.api.urls")),
    path("", include("stations.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("ocpp_consumer.api.urls")),
    path("", include("devicemodel.api.urls")),
    path("", include("roaming.api.urls")),
    path("", include("loadmanagement.urls")),
    # Last: any other path ending in a slash is a JSON 404 (without the slash,
    # CommonMiddleware still redirects to it first, as for the known paths).
    re_path(r"^.*/$", NotFoundView.as_view()),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("v1/", include(v1)),
]
