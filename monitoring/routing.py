from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import re_path

from .consumers import DashboardConsumer
from .driver_live.consumer import DriverLiveConsumer


def dashboard_application():
    """Browsers only: the Origin must be one of ours, the session cookie says who."""
    return AllowedHostsOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi()))


def driver_live_application():
    """Apps: any Origin (mobile apps send none), the API token says who; no cookies."""
    return DriverLiveConsumer.as_asgi()


websocket_urlpatterns = [
    re_path(r"^ws/dashboard/$", dashboard_application()),
    re_path(r"^ws/driver/$", driver_live_application()),
]
