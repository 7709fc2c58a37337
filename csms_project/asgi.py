"""ASGI entry point: `daphne csms_project.asgi:application`."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_project.settings")
GC_GEN0_THRESHOLD = int(os.environ.get("GC_GEN0_THRESHOLD", "50000"))
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from csms_project import daphne_patches  # noqa: E402
from monitoring import nodes  # noqa: E402
from monitoring.routing import websocket_urlpatterns as dashboard_urlpatterns  # noqa: E402
from ocpp_consumer.commands import relay_listener  # noqa: E402
from ocpp_consumer.routing import unrouted_urlpatterns, websocket_urlpatterns  # noqa: E402

daphne_patches.install()
# Register this process in the service registry once Daphne's reactor runs.
nodes.start_with_daphne()
# Without Redis: take commands that other processes relay through the database.
relay_listener.start_with_daphne()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # OCPP first and as it is (charge points send no Origin header); the
        # dashboard route carries its own origin check and session auth; any
        # other path is refused with 404, not a 500 and a traceback.
        "websocket": URLRouter(
            websocket_urlpatterns + dashboard_urlpatterns + unrouted_urlpatterns
        ),
    }
)

# Everything loaded at start-up lives as long as the process: move it out of
# the collector's way and collect young objects less often (the largest single
# gain measured for Channels servers; bench/results/PROFILE.md).
gc.collect()
gc.freeze()
gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
