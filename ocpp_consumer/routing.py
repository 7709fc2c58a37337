from django.urls import re_path

from .consumer import OcppConsumer

# Charge points send no Origin header: no AllowedHostsOriginValidator here.
websocket_urlpatterns = [
    re_path(r"^ocpp/(?P<charge_point_id>[^/]+)/?$", OcppConsumer.as_asgi()),
]
