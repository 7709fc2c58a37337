from django.urls import re_path

from . import cdrs_views, commands_views, tokens_views, views

# OCPI URLs come with or without a trailing slash; both are served (no redirect of a POST).
urlpatterns = [
    re_path(r"^versions/?$", views.VersionsView.as_view(), name="ocpi-versions"),
    re_path(r"^2\.2\.1/?$", views.VersionDetailsView.as_view(), name="ocpi-version-details"),
    re_path(r"^2\.2\.1/credentials/?$", views.CredentialsView.as_view(), name="ocpi-credentials"),
    re_path(r"^cpo/2\.2\.1/locations/?$", views.LocationListView.as_view(), name="ocpi-locations"),
    re_path(
        r"^cpo/2\.2\.1/locations/(?P<location_id>[^/]{1,36})"
        r"(?:/(?P<evse_uid>[^/]{1,36}))?(?:/(?P<connector_id>[^/]{1,36}))?/?$",
        views.LocationDetailView.as_view(),
        name="ocpi-location",
    ),
    re_path(r"^cpo/2\.2\.1/tariffs/?$", views.TariffListView.as_view(), name="ocpi-tariffs"),
    re_path(
        r"^cpo/2\.2\.1/tokens/(?P<country_code>[A-Za-z]{2})/(?P<party_id>[A-Za-z0-9]{3})"
        r"/(?P<uid>[^/]{1,36})/?$",
        tokens_views.TokenView.as_view(),
        name="ocpi-token",
    ),
    re_path(r"^cpo/2\.2\.1/cdrs/?$", cdrs_views.CdrListView.as_view(), name="ocpi-cdrs"),
    re_path(
        r"^cpo/2\.2\.1/sessions/?$", cdrs_views.SessionListView.as_view(), name="ocpi-sessions"
    ),
    re_path(
        r"^cpo/2\.2\.1/commands/(?P<command>[A-Za-z_]{1,40})/?$",
        commands_views.CommandView.as_view(),
        name="ocpi-command",
    ),
    re_path(r"^.*$", views.UnknownEndpointView.as_view()),
]
