"""Let Daphne refuse a WebSocket handshake with the HTTP status the app chose,
and tell the app whether the socket is TLS.

ASGI's WebSocket Denial Response extension lets an application answer a
handshake with an HTTP response (401 for bad charge point credentials, 404
for an unknown charge point). Daphne 4.2 does not implement it and answers
every refusal with 403. `install()` adds the extension to Daphne's WebSocket
scope and turns `websocket.http.response.*` messages into the refusal with
that status. Under other servers (or the test communicator) the consumer sees
no extension and falls back to a plain close.
"""

from __future__ import annotations

from http import HTTPStatus

EXTENSION = "websocket.http.response"


def install() -> None:
    try:
        from autobahn.websocket.types import ConnectionDeny
        from daphne.server import Server
        from daphne.ws_protocol import WebSocketProtocol
        from twisted.internet.interfaces import ISSLTransport
    except ImportError:  # not running under Daphne
        return
    if getattr(Server.create_application, "_denial_response", False):
        return

    original_create_application = Server.create_application
    original_handle_reply = WebSocketProtocol.handle_reply

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            scope.setdefault("extensions", {})[EXTENSION] = {}
            # Daphne leaves the scheme out of WebSocket scopes; the consumer
            # needs it to tell TLS (security profile 2) from plain sockets.
            if ISSLTransport.providedBy(getattr(protocol, "transport", None)):
                scope["scheme"] = "wss"
        return original_create_application(self, protocol, scope)

    def handle_reply(self, message):
        kind = message.get("type", "")
        if not kind.startswith(EXTENSION) or self.state != self.STATE_CONNECTING:
            return original_handle_reply(self, message)
        if kind == f"{EXTENSION}.start":
            self.denial_status = int(message["status"])
        elif not message.get("more_body", False):
            status = getattr(self, "denial_status", HTTPStatus.FORBIDDEN)
            self.handshake_deferred.errback(
                ConnectionDeny(code=status, reason=HTTPStatus(status).phrase)
            )
            del self.handshake_deferred
            self.server.protocol_disconnected(self)

    create_application._denial_response = True
    Server.create_application = create_application
    WebSocketProtocol.handle_reply = handle_reply
