"""WebSocket routes of the OCPP adapter, and the answer to a path no route serves."""

import logging
from http import HTTPStatus

from django.urls import re_path

from monitoring.logging import escape_control

from .consumer import OcppConsumer
from .handshake import websocket_deny

logger = logging.getLogger(__name__)

# Charge points send no Origin header: no AllowedHostsOriginValidator here.
websocket_urlpatterns = [
    re_path(r"^ocpp/(?P<charge_point_id>[^/]+)/?$", OcppConsumer.as_asgi()),
]


async def websocket_not_found(scope, receive, send):
    """Refuse a handshake to a path no route serves: 404 (403 without the extension).

    Channels' URLRouter raises for an unmatched path, which the server turns
    into a 500 and a traceback per scanner request; the last route sends here.
    """
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    path = escape_control(scope.get("path", ""))[:200]
    logger.info("refused handshake: no WebSocket route for %s", path)
    await websocket_deny(scope, send, HTTPStatus.NOT_FOUND)


# Last in the router: matches every path the routes before it did not.
unrouted_urlpatterns = [re_path(r"", websocket_not_found)]
