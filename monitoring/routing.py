from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import re_path

from .consumers import DashboardConsumer


def dashboard_application():
    """Browsers only: the Origin must be one of ours, the session cookie says who."""
    return AllowedHostsOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi()))


websocket_urlpatterns = [re_path(r"^ws/dashboard/$", dashboard_application())]
