from django.contrib import admin
from django.urls import include, path

from monitoring.views import dashboard_view

urlpatterns = [
    # Before the admin's own URLs, whose catch-all would take "dashboard" for an app.
    path("admin/dashboard/", dashboard_view, name="monitoring_dashboard"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("monitoring.urls")),
    path("api/", include("csms_project.api_urls")),
    path("files/", include("firmware.urls")),
    path("ocpi/", include("roaming.ocpi.urls")),
]
